"""The data sets by name: how each is loaded, its classes, its sizes and how to get it.

One table for every experiment: the image experiments' `--dataset`, the report's class
names, the augmentation's "may it be flipped", `classicnets run`'s "is it here". A data set
loaded once is reused within the process (a sweep's trials, `run`'s studies): the cache
holds read-only arrays, so no run can change what another reads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from classicnets.data import images, signals
from classicnets.data.arrays import NPZ, ArrayData, is_npz
from classicnets.errors import UsageError

CACHED = 2  # data sets kept in memory: a suite's studies use one or two (CIFAR-10: 180 MB)
# The process's loaded data sets, newest last, by (name, data_dir, mirror). Module state on
# purpose: it is what "reused within the process" means; `forget` empties it.
_LOADED: OrderedDict[tuple, ArrayData] = OrderedDict()


@dataclass(frozen=True)
class DataSet:
    name: str
    class_names: tuple[str, ...]
    flip: bool  # a mirrored image is still of its class (not for digits: a mirrored 2 is none)
    sizes: tuple[int, int]  # (train, test) samples of the official split
    shape: tuple[int, int, int]  # (C, H, W) of one image
    how_to_get: str  # the fix, when it is missing
    available: Callable[[Path], bool]  # data_dir -> are its files there (nothing read)?
    itemsize: int = 1  # bytes per stored value: uint8 images; MNIST-1D's signals are float32


IMAGE_SETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet(
            "cifar10",
            images.CLASS_NAMES["cifar10"],
            True,
            (50_000, 10_000),
            (3, 32, 32),
            images.HOW_TO_GET["cifar10"],
            lambda data_dir: images.available("cifar10", data_dir),
        ),
        DataSet(
            "mnist",
            images.CLASS_NAMES["mnist"],
            False,
            (60_000, 10_000),
            (1, 28, 28),
            images.HOW_TO_GET["mnist"],
            lambda data_dir: images.available("mnist", data_dir),
        ),
        DataSet(
            "fashion-mnist",
            images.CLASS_NAMES["fashion-mnist"],
            True,
            (60_000, 10_000),
            (1, 28, 28),
            images.HOW_TO_GET["fashion-mnist"],
            lambda data_dir: images.available("fashion-mnist", data_dir),
        ),
        DataSet(
            "digits",
            images.CLASS_NAMES["digits"],
            False,
            (1437, 360),  # scikit-learn's 1,797, split 80/20 (images._load_digits)
            (1, 8, 8),
            "it ships with scikit-learn",
            lambda data_dir: True,
        ),
        DataSet(
            "mnist1d",
            images.CLASS_NAMES["mnist1d"],
            False,  # a mirrored signal is another template's
            signals.SIZES,
            signals.SHAPE,
            signals.HOW_TO_GET,
            lambda data_dir: signals.installed(),
            itemsize=4,
        ),
    )
}


def check_image_name(name: str) -> str | None:
    """A config check for --dataset: None when the name is known."""
    if name in IMAGE_SETS or is_npz(name):
        return None
    return f"unknown data set; choose {', '.join(IMAGE_SETS)} or npz:PATH"


TITLES = {  # how a page names each set (a user's npz: by its path)
    "cifar10": "CIFAR-10",
    "mnist": "MNIST",
    "fashion-mnist": "Fashion-MNIST",
    "digits": "scikit-learn's 8×8 digits",
    "mnist1d": "MNIST-1D",
}


def title(name: str) -> str:
    """A data set as a reader knows it: "Fashion-MNIST", "the npz file my.npz", "moons"."""
    if is_npz(name):
        return f"the npz file {name[len(NPZ) :]}"
    return TITLES.get(name, name)


def class_names(name: str) -> tuple[str, ...] | None:
    """The class names of a named set (None for the user's npz: its labels are numbers)."""
    return IMAGE_SETS[name].class_names if name in IMAGE_SETS else None


def flips(name: str) -> bool:
    """May augmentation mirror this data set's images? (npz: yes, as for photographs)."""
    return IMAGE_SETS[name].flip if name in IMAGE_SETS else True


def load(
    name: str, data_dir: Path, download: bool, progress: bool, mirror: str | None
) -> ArrayData:
    """The named image data set, read once per process: later calls with the same name,
    folder and mirror get the same (read-only) arrays."""
    key = (name, Path(data_dir).resolve(), mirror, _stamp(name))
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    data = images.load_images(name, Path(data_dir), download, progress, mirror=mirror)
    for array in (data.X_train, data.y_train, data.X_test, data.y_test):
        array.setflags(write=False)
    _LOADED[key] = data
    while len(_LOADED) > CACHED:
        _LOADED.popitem(last=False)
    return data


def _stamp(name: str) -> tuple[int, int] | None:
    """A user's npz changes under its name (it is theirs to rewrite): its size and time are
    part of the key. The named sets are checked by MD5 when fetched and never rewritten."""
    if not is_npz(name):
        return None
    try:
        stat = Path(name[len(NPZ) :]).stat()
    except OSError:
        return None  # the loader says what is wrong with it
    return stat.st_size, stat.st_mtime_ns


def sizes(name: str, data_dir: Path, download: bool) -> tuple[int, int]:
    """(train, test) samples of a data set, without reading it where its size is known; a
    missing set that will not be downloaded is the error that loading would give."""
    if is_npz(name):  # the user's: only its arrays know (read once, then cached)
        data = load(name, data_dir, False, False, None)
        return len(data.y_train), len(data.y_test)
    if name not in IMAGE_SETS:
        raise UsageError(f"--dataset {name}: {check_image_name(name)}")
    dataset = IMAGE_SETS[name]
    if not download and not dataset.available(Path(data_dir)):
        images.load_images(name, Path(data_dir), download=False, progress=False)  # raises
    return dataset.sizes


class Shape(NamedTuple):
    """What a run's memory estimate needs of a data set, without reading a named one."""

    sample: tuple[int, ...]  # (C, H, W) of one image (a user's npz: as loaded)
    num_classes: int
    itemsize: int  # bytes per stored value: 1 for uint8 images


def shape(name: str, data_dir: Path, download: bool) -> Shape:
    """A data set's sample shape, classes and storage, as `sizes` finds them (a user's npz is
    read once, then cached; a missing named set is the error loading would give)."""
    if is_npz(name):
        data = load(name, data_dir, False, False, None)
        return Shape(data.X_train.shape[1:], data.num_classes, data.X_train.itemsize)
    sizes(name, data_dir, download)  # the checks: known, and here or to be downloaded
    dataset = IMAGE_SETS[name]
    return Shape(dataset.shape, len(dataset.class_names), dataset.itemsize)


def forget() -> None:
    """Drop the cached data sets (tests that replace files under the same name)."""
    _LOADED.clear()
