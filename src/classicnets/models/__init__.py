"""PyTorch models: the MLPs, the VGG-style CNN and the recurrent nets."""

from classicnets.models.mlp import ImageMLP, TorchMLP

__all__ = ["ImageMLP", "TorchMLP"]
