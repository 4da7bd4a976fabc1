"""Stage 3: the models compared: the GMN on INR parameter graphs, the MLP and CNN on images, their training."""
