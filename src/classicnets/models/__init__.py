"""PyTorch models: the MLPs (mlp), the VGG-style CNN (vgg), the ResNet (resnet) and the
recurrent nets (rnn, with their hand-written backward through time in bptt)."""

from classicnets.models.mlp import ImageMLP, TorchMLP
from classicnets.models.resnet import ResNet

__all__ = ["ImageMLP", "ResNet", "TorchMLP"]
