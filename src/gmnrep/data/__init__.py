"""Stage 1: raw datasets fetched and verified, read from their formats, split, written as one dataset file."""
