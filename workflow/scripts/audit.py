import sys

from gmnrep.core.joblog import job_log
from gmnrep.provenance import cli

arguments = ["audit", "--snakefile", snakemake.params.snakefile, "--directory", ".", "--configfile"]
arguments += snakemake.params.configfiles
if snakemake.params.config_args:
    arguments += ["--config", *snakemake.params.config_args]
with job_log(snakemake.log[0], "audit"):
    status = cli.main(arguments)
# the table went to the log; show it where the user ran Snakemake, too
print(open(snakemake.log[0]).read(), file=sys.__stderr__)
sys.exit(status)
