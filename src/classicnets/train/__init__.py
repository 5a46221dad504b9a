"""Training: the one loop, the learners it drives, and the run directory it writes."""
