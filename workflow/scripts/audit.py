import sys

from gmnrep import cli
from gmnrep.runlog import job_log

arguments = ["audit", "--snakefile", snakemake.params.snakefile, "--directory", "."]
for path in snakemake.params.configfiles:
    arguments += ["--configfile", path]
if snakemake.params.config_args:
    arguments += ["--config", *snakemake.params.config_args]
with job_log(snakemake.log[0], "audit"):
    status = cli.main(arguments)
# the table went to the log; show it where the user ran Snakemake, too
print(open(snakemake.log[0]).read(), file=sys.__stderr__)
sys.exit(status)
