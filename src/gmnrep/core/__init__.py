"""Plumbing every stage shares: atomic writes, HDF5 and CSV files, errors, job logs, hashes, device choice."""
