"""Sweeps on Optuna: a study in a storage, worker processes that take trials from it, and
every trial a normal run directory.

    classicnets sweep NAME [--workers N] [--storage URL] [--search N] [--out DIR]

plan.py checks every trial and makes the plan; study.py is the storage and the study;
workers.py trains trials; locks.py keeps one worker per trial; run.py ties them together
and writes sweep.json.
"""

from classicnets.runner.sweep.run import run_sweep

__all__ = ["run_sweep"]
