"""Training: the one loop, the learners it drives, optimizers, data-parallel training, and
the private-API fast paths (each with its public fallback)."""
