"""Stage 2: one SIREN INR fitted per image, in shards of stacked weights."""
