"""Running: one experiment into a run directory (run.py), restoring and analysing it, the
device and threads it runs on (devices.py), output checks (outdir.py), and sweeps of many
runs on Optuna (sweep/)."""
