"""classicnets: train, compare and report on the classic neural networks."""

__version__ = "0.1.0"
