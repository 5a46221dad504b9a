"""Image data sets as uint8 arrays X (N, C, H, W) and int64 labels y (N,): CIFAR-10, MNIST,
Fashion-MNIST, scikit-learn's 8x8 digits, MNIST-1D's signals as 40x1 columns (data/signals.py),
or a user's .npz.

Files are read by parsers that cannot be made to run code: CIFAR-10's pickled batches by an
unpickler that admits only NumPy's array reconstruction, IDX files by a strict header check.
Anything unexpected is a UsageError naming the file and the fix, never a traceback.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from classicnets.data import signals
from classicnets.data.arrays import NPZ, ArrayData, is_npz, load_npz
from classicnets.data.download import check_md5, mirror_url, safe_extract_tar
from classicnets.data.download import download as fetch_file
from classicnets.errors import UsageError, one_line, shown

IMAGE_DATASETS = ("cifar10", "mnist", "fashion-mnist", "digits", "mnist1d")
NUM_CLASSES = 10  # in each of the five
_DIGITS = tuple(str(k) for k in range(10))
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "cifar10": (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ),
    "mnist": _DIGITS,
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    "digits": _DIGITS,
    "mnist1d": _DIGITS,
}  # fmt: skip

# torchvision's datasets.MNIST/FashionMNIST(root=DATA_DIR) keep the four IDX files (.gz and
# unpacked) in DATA_DIR/FOLDER/raw/: looked in after DATA_DIR/NAME/, so a folder a user already
# downloaded with torchvision is used as it is.
TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
# Looked in last: Debian's package dataset-fashion-mnist puts the four .gz here.
FASHION_MNIST_SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {"fashion-mnist": FASHION_MNIST_SYSTEM_DIRS}

# Official locations and the MD5 of each official file. Never changed by the code; tests
# swap in their own entries with monkeypatch.setitem.
BASE_URLS: dict[str, str] = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
CHECKSUMS: dict[str, dict[str, str]] = {
    "cifar10": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
HOW_TO_GET = {
    "cifar10": "pass --download true (170 MB from www.cs.toronto.edu), or put "
    "cifar-10-batches-py there",
    "mnist": "pass --download true (11 MB from ossci-datasets.s3.amazonaws.com), or put the "
    "four IDX files (.gz or not) there",
    "fashion-mnist": "pass --download true (30 MB from fashion-mnist.s3-website.eu-central-1"
    ".amazonaws.com), or apt-get install dataset-fashion-mnist",
}


def load_images(
    name: str,
    data_dir: Path,
    download: bool = False,
    progress: bool = True,
    mirror: str | None = None,
    system_dirs: Mapping[str, tuple[Path, ...]] | None = None,
) -> ArrayData:
    """The named data set; `download` fetches a missing one (from `mirror`, a base URL that
    keeps the official file names, if given); `system_dirs` replaces SYSTEM_DIRS."""
    data_dir = Path(data_dir)
    if is_npz(name):
        return _load_npz_images(name[len(NPZ) :])
    if name == "digits":
        return _load_digits()
    if name == "mnist1d":
        return signals.load_mnist1d()
    if name == "cifar10":
        return _load_cifar10(data_dir, download, progress, mirror)
    if name in ("mnist", "fashion-mnist"):
        dirs = idx_dirs(name, data_dir, system_dirs)
        return _load_idx_set(name, dirs, download, progress, mirror)
    raise UsageError(
        f"--dataset {name}: unknown data set; choose {', '.join(IMAGE_DATASETS)} or npz:PATH"
    )


def available(name: str, data_dir: Path, system_dirs=None) -> bool:
    """Are the named set's files in data_dir (or, for Fashion-MNIST, Debian's folder)? Looks,
    reads nothing: whether they are whole is for the loader to find."""
    data_dir = Path(data_dir)
    if name == "cifar10":
        folder = data_dir / CIFAR_FOLDER
        return (data_dir / CIFAR_ARCHIVE).is_file() or all(
            (folder / batch).is_file() for batch in CIFAR_BATCHES
        )
    if name in ("mnist", "fashion-mnist"):
        return any(_find_idx(d) is not None for d in idx_dirs(name, data_dir, system_dirs))
    return name == "digits" or (name == "mnist1d" and signals.installed())


def idx_dirs(
    name: str, data_dir: Path, system_dirs: Mapping[str, tuple[Path, ...]] | None = None
) -> tuple[Path, ...]:
    """Where MNIST or Fashion-MNIST is looked for, in order: DATA_DIR/NAME (where a download
    goes), torchvision's DATA_DIR/FOLDER/raw, then the system's folders."""
    system_dirs = SYSTEM_DIRS if system_dirs is None else system_dirs
    torchvision = Path(data_dir) / TORCHVISION_FOLDERS[name] / "raw"
    return (Path(data_dir) / name, torchvision, *system_dirs.get(name, ()))


# --- CIFAR-10: six pickled batches in cifar-10-batches-py/ --------------------------------

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_BATCHES = (*(f"data_batch_{k}" for k in range(1, 6)), "test_batch")
# All that a batch (a dict of a uint8 array and lists) needs to be rebuilt. The batches were
# written by Python 2; _codecs.encode is how Python 3 writes bytes at protocol 2, so batches
# re-pickled there load too (it only turns text into bytes).
CIFAR_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})  # fmt: skip


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch; any other global (os.system, eval, ...) is refused."""

    def __init__(self, file, path: Path):
        # Python 2 str -> bytes (the keys are b"data", ...); names are checked as written,
        # not mapped from Python 2's to 3's.
        super().__init__(file, encoding="bytes", fix_imports=False)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) in CIFAR_GLOBALS:
            return super().find_class(module, name)
        named = shown(f"{module}.{name}")  # written by the file: may hold a line break
        raise UsageError(
            f"{self.path}: refusing to unpickle {named}; a CIFAR-10 batch holds only "
            "arrays and lists; delete it and re-download"
        )


def _load_cifar10(data_dir: Path, download: bool, progress: bool, mirror: str | None):
    folder = data_dir / CIFAR_FOLDER
    if not folder.is_dir():
        archive = data_dir / CIFAR_ARCHIVE
        md5 = CHECKSUMS["cifar10"][CIFAR_ARCHIVE]
        if download:
            url = mirror_url(BASE_URLS["cifar10"] + CIFAR_ARCHIVE, mirror)
            fetch_file(url, archive, md5, progress)
        elif archive.is_file():  # fetched or placed earlier but not unpacked
            check_md5(archive, md5)
        else:
            raise UsageError(f"cifar10 not found in {folder}; {HOW_TO_GET['cifar10']}")
        safe_extract_tar(archive, folder)
    for batch in CIFAR_BATCHES:
        if not (folder / batch).is_file():
            raise UsageError(
                f"{folder} lacks {batch}; delete the folder and rerun with --download true"
            )
    train = [_read_cifar_batch(folder / batch) for batch in CIFAR_BATCHES[:-1]]
    X_test, y_test = _read_cifar_batch(folder / CIFAR_BATCHES[-1])
    return ArrayData(
        X_train=np.concatenate([X for X, _ in train]),  # (50000, 3, 32, 32) uint8
        y_train=np.concatenate([y for _, y in train]),
        X_test=X_test,
        y_test=y_test,
        num_classes=NUM_CLASSES,
    )


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X (n, 3, 32, 32) uint8 and y (n,) int64 from one pickled batch."""
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, path).load()
    except UsageError:
        raise
    except Exception as error:  # a damaged pickle can fail in many ways; all mean the same
        raise UsageError(
            f"{path}: not a readable CIFAR-10 batch ({one_line(error)}); delete it and re-download"
        ) from None

    def bad(problem: str) -> UsageError:
        return UsageError(f"{path}: {problem}; delete it and re-download")

    if not isinstance(batch, dict):
        raise bad(f"holds a {type(batch).__name__}, not a CIFAR-10 batch (a dict)")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise bad("its 'data' is not a uint8 array of rows of 3072 pixels")
    if data.shape[1] != 3 * 32 * 32 or len(data) == 0:
        raise bad(f"its 'data' has shape {data.shape}, expected (N, 3072)")
    try:  # a list of unequal lists has no array shape
        y = np.asarray(labels if isinstance(labels, (list, np.ndarray)) else [])
    except ValueError:
        raise bad("its 'labels' are not a list of integers") from None
    if y.shape != (len(data),) or not np.issubdtype(y.dtype, np.integer):
        raise bad(f"expected {len(data)} integer labels, got {y.shape[0] if y.ndim else 0}")
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise bad(f"labels run from {y.min()} to {y.max()}, expected 0..9")
    # Each row is 1024 red, 1024 green, then 1024 blue values, rows of 32 within each.
    return data.reshape(-1, 3, 32, 32), y.astype(np.int64)


# --- MNIST and Fashion-MNIST: four IDX files, plain or gzipped ----------------------------

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _find_idx(folder: Path) -> list[Path] | None:
    """The four IDX files in `folder` (each plain or .gz), or None if one is missing."""
    found = []
    for stem in IDX_FILES:
        candidates = [folder / stem, folder / f"{stem}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found


def _load_idx_set(
    name: str, dirs: tuple[Path, ...], download: bool, progress: bool, mirror: str | None
) -> ArrayData:
    files = next((f for f in map(_find_idx, dirs) if f is not None), None)
    if files is None:
        if not download:
            looked = ", ".join(str(d) for d in dirs[:-1]) + f" or {dirs[-1]}"
            raise UsageError(f"{name} not found in {looked}; {HOW_TO_GET[name]}")
        files = [
            fetch_file(
                mirror_url(BASE_URLS[name] + f"{stem}.gz", mirror),
                dirs[0] / f"{stem}.gz",
                CHECKSUMS[name][f"{stem}.gz"],
                progress,
            )
            for stem in IDX_FILES
        ]
    X_train, y_train = _idx_pair(files[0], files[1])
    X_test, y_test = _idx_pair(files[2], files[3])
    return ArrayData(X_train, y_train, X_test, y_test, num_classes=NUM_CLASSES)


def _idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X (N, 1, H, W) uint8 and y (N,) int64 from an images file and its labels file."""
    images = read_idx(images_path, rank=3)  # (N, H, W)
    labels = read_idx(labels_path, rank=1)  # (N,)
    if len(images) != len(labels):
        raise UsageError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} "
            "labels; replace both with the official files (--download true fetches them)"
        )
    if labels.max() >= NUM_CLASSES:
        raise UsageError(
            f"{labels_path}: label {labels.max()} is not a class 0..9; replace it with the "
            "official file (--download true fetches it)"
        )
    return images[:, None], labels.astype(np.int64)


def read_idx(path: Path, rank: int) -> np.ndarray:
    """An IDX file of unsigned bytes (magic 0x0000080R, R big-endian uint32 sizes, data)."""

    def bad(problem: str) -> UsageError:
        return UsageError(
            f"{path}: not an IDX file of {rank} dimension(s) ({problem}); replace it with the "
            "official file (--download true fetches it)"
        )

    raw = _read_bytes(path)
    magic = int.from_bytes(raw[:4], "big")
    if len(raw) < 4 or magic != 0x800 + rank:
        raise bad(f"magic 0x{magic:08x}, expected 0x{0x800 + rank:08x}")
    header = 4 + 4 * rank
    if len(raw) < header:
        raise bad(f"{len(raw)} bytes, shorter than its {header}-byte header")
    shape = struct.unpack(f">{rank}I", raw[4:header])
    if 0 in shape:
        raise bad(f"sizes {shape}")
    expected = header + math.prod(shape)  # Python ints: np.prod's int64 wraps around
    if len(raw) != expected:
        raise bad(f"{len(raw)} bytes where its sizes {shape} make {expected}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape).copy()


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise UsageError(
            f"{path}: unreadable ({one_line(error)}); replace it with the official file "
            "(--download true fetches it)"
        ) from None


# --- scikit-learn's digits and the user's .npz --------------------------------------------


def _load_digits() -> ArrayData:
    """1797 8x8 digits (shipped with scikit-learn), split 80/20 stratified with seed 0."""
    from sklearn.datasets import load_digits  # imported here: it is slow to import
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    y = digits.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    return ArrayData(X_train, y_train, X_test, y_test, num_classes=NUM_CLASSES)


def _load_npz_images(path: str) -> ArrayData:
    """Images N×C×H×W or N×H×W (given a channel axis), or vectors N×D (tabular data, kept
    N×D: the experiment says whether it takes them); uint8 stays uint8, else float32."""
    data = load_npz(path)  # checks keys, lengths and labels; X as float64
    with np.load(path, allow_pickle=False) as npz:
        keep_uint8 = npz["X_train"].dtype == np.uint8 and npz["X_test"].dtype == np.uint8
    dtype = np.uint8 if keep_uint8 else np.float32
    X = {}
    for split, array in (("train", data.X_train), ("test", data.X_test)):
        if array.ndim not in (2, 3, 4):
            raise UsageError(
                f"--dataset npz:{path}: X_{split} has shape {array.shape}; give images "
                "N×C×H×W or N×H×W, sequences N×T×F, or vectors N×D"
            )
        X[split] = (array[:, None] if array.ndim == 3 else array).astype(dtype)
    if X["train"].shape[1:] != X["test"].shape[1:]:
        what = "vectors" if X["train"].ndim == 2 else "images"
        raise UsageError(
            f"--dataset npz:{path}: X_train {what} are {X['train'].shape[1:]} but X_test "
            f"{X['test'].shape[1:]}; give both splits {what} of one size"
        )
    return ArrayData(X["train"], data.y_train, X["test"], data.y_test, data.num_classes)
