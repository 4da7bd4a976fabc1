"""Stage 6: provenance records of every job, the audit of a run against them, and the `gmnrep` command."""
