"""Stage 4: activation dumps of trained models on the probe samples, and CKA between them."""
