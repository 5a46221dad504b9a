"""Data: the toy sets, images and palindromes as arrays, their splits, one registry of the
image sets, and the sources that hand a learner its batches on the device."""

from classicnets.data.arrays import ArrayData, load_npz
from classicnets.data.toy import TOY_DATASETS, make_toy

__all__ = ["ArrayData", "TOY_DATASETS", "load_npz", "make_toy"]
