"""Stage 5: the paper's tables and figures, and the statistics behind its claims."""
