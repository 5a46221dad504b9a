"""PyTorch models: the MLP now; the VGG-style CNN and the recurrent nets join it later."""

from classicnets.models.mlp import TorchMLP

__all__ = ["TorchMLP"]
