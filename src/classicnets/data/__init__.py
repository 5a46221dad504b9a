"""Data sets as arrays: toy 2-D sets now; images and sequences join later."""

from classicnets.data.arrays import ArrayData, load_npz
from classicnets.data.toy import TOY_DATASETS, make_toy

__all__ = ["ArrayData", "TOY_DATASETS", "load_npz", "make_toy"]
