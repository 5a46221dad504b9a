"""An MLP written from scratch in NumPy: modules with hand-written forward and backward."""

from classicnets.numpy_nn.init import init_linear_layers
from classicnets.numpy_nn.mlp import MLP, SGD
from classicnets.numpy_nn.modules import CrossEntropy, Linear, Module, ReLU, SoftMax, one_hot

__all__ = [
    "MLP",
    "SGD",
    "CrossEntropy",
    "Linear",
    "Module",
    "ReLU",
    "SoftMax",
    "init_linear_layers",
    "one_hot",
]
