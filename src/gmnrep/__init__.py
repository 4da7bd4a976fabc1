"""gmnrep: the library behind the reproducible pipeline for
"On the Internal Representations of Graph Metanetworks" (Yeom & Lee, 2025).

It knows nothing of Snakemake: every stage is a plain function over files and arrays.
"""

__version__ = "0.1.0"
