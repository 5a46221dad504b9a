"""Property tests (hypothesis): hostile or broken input always gets a clean error.

Random text for every experiment's keys (through config.build and the CLI), and random, cut,
flipped or crafted bytes as IDX files, CIFAR-10 pickles, .npz files and checkpoints. Each input
either works or raises a UsageError of one line (the CLI: exit 0, or 2 with one line on
stderr): never a traceback, never a hang, and no file gets to run code. The module prints how
many inputs each property tried, and how many of them crashed.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import os
import pickle
import shutil
import signal
import struct
import subprocess
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as npst
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from classicnets import cli, config
from classicnets.data.arrays import load_npz
from classicnets.data.images import CIFAR_BATCHES, CIFAR_FOLDER, IDX_FILES, load_images
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS
from classicnets.records import CHECKPOINT, CONFIG, RunDir

# Expected: crafted pickles that torch's loader warns about before refusing them
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")

TRIED: Counter[str] = Counter()  # inputs per property
CRASHED: Counter[str] = Counter()  # of those, the ones that got anything but a clean error
HANG_S = 30  # seconds one input may take before it counts as a hang (most take ms)
# Every payload below would create this file if it ran; none may.
MARKER = Path(tempfile.gettempdir()) / f"classicnets-fuzz-{os.getpid()}.ran"
# Hypothesis caches (and patches for failures) go here, not into .hypothesis/ in the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "classicnets-hypothesis")


def fuzz(examples: int):
    """Hypothesis settings: no deadline (the machine may be busy; HANG_S catches hangs) and
    no example database (a failure prints its example). A developer's run draws afresh each
    time, to find what no run found before; CI (CI=true) draws the same inputs every time,
    so that a submission is judged on its own change, not on the luck of the draw."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` turns it clean."""


def attempt(prop: str, call: Callable[[], Any]) -> Any:
    """Count one input; return call()'s result, or the UsageError it raised. Anything else (a
    traceback, a hang, a message of several lines, code run) fails the test."""
    TRIED[prop] += 1

    def hang(signum, frame):
        raise Hang(f"{prop}: one input ran over {HANG_S} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_S)
    try:
        try:
            return call()
        except UsageError as error:
            assert len(str(error).splitlines()) == 1, f"not one line: {error}"
            return error
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
            assert not MARKER.exists(), "a payload ran"
    except BaseException:
        CRASHED[prop] += 1
        raise


def run_cli(argv: list[str]) -> tuple[int, str]:
    """`classicnets ARGV` in-process: exit 0, or 2 with one `error:` line on stderr."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as done:  # a true/false key alone, then --help: the help, exit 0
            code = done.code
    lines = err.getvalue().splitlines()
    clean = code == 2 and len(lines) == 1 and lines[0].startswith("classicnets: error: ")
    assert code == 0 or clean, f"exit {code}:\n{err.getvalue()}"
    return code, err.getvalue()


@pytest.fixture(scope="module", autouse=True)
def tally(request: pytest.FixtureRequest):
    """After the module: one line with the counts (printed even without -s)."""
    yield
    MARKER.unlink(missing_ok=True)
    per = ", ".join(f"{prop} {n}" for prop, n in TRIED.items())
    line = f"fuzz: {sum(TRIED.values())} hostile inputs, {sum(CRASHED.values())} crashed ({per})"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # past the capture of teardown output
            reporter.write(f"\n{line}\n")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def fresh(workdir: Path) -> Path:
    """A new empty folder per input (hypothesis runs many inputs per test function)."""
    return Path(tempfile.mkdtemp(dir=workdir))


def cut_or_flip(blob: bytes) -> st.SearchStrategy[bytes]:
    """A good file damaged: cut short, one byte changed, or grown."""
    return st.one_of(
        st.integers(0, len(blob) - 1).map(lambda n: blob[:n]),
        st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)).map(
            lambda at: blob[: at[0]] + bytes([at[1]]) + blob[at[0] + 1 :]
        ),
        st.binary(min_size=1, max_size=16).map(lambda tail: blob + tail),
    )


# --- code a file might try to run ----------------------------------------------------------


class Payload:
    """Pickles as `func(*args)`: what a plain unpickler would call."""

    def __init__(self, func: Callable, *args: Any):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


TOUCH = f"open({str(MARKER)!r}, 'w').close()"  # Python that creates the marker
PAYLOADS = (
    Payload(os.system, f"touch {MARKER}"),
    Payload(eval, TOUCH),
    Payload(exec, TOUCH),
    Payload(subprocess.call, ["touch", str(MARKER)]),
    Payload(open, str(MARKER), "w"),
)
DANGEROUS = [  # (module, name) a crafted GLOBAL opcode may name
    ("os", "system"), ("posix", "system"), ("subprocess", "check_output"), ("builtins", "eval"),
    ("__builtin__", "exec"), ("builtins", "__import__"), ("builtins", "getattr"),
    ("shutil", "rmtree"), ("pickle", "loads"), ("numpy", "load"), ("torch", "load"),
    ("numpy.testing._private.utils", "runstring"), ("_codecs", "decode"),
]  # fmt: skip


def test_the_payloads_are_live():
    """Plain pickle runs each payload: so their refusals below mean something."""
    for payload in PAYLOADS:
        result = pickle.loads(pickle.dumps(payload, protocol=2))
        if hasattr(result, "close"):  # open()'s file
            result.close()
        assert MARKER.exists(), payload.func
        MARKER.unlink()


def crafted_global(module: str, name: str, stack: bool) -> bytes:
    """A pickle calling module.name(TOUCH), written opcode by opcode: GLOBAL (protocol 2, the
    names end at a newline) or STACK_GLOBAL (protocol 4, any text)."""
    arg = TOUCH.encode()
    call = b"X" + struct.pack("<I", len(arg)) + arg + b"\x85R."  # BINUNICODE, TUPLE1, REDUCE
    if stack:
        m, n = module.encode(), name.encode()
        return (
            b"\x80\x04\x8c" + bytes([len(m)]) + m + b"\x8c" + bytes([len(n)]) + n + b"\x93" + call
        )
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + call


NAME = st.text(max_size=16)
LINE = st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=16)
GLOBALS = st.one_of(
    st.sampled_from(DANGEROUS).map(lambda mn: crafted_global(*mn, stack=False)),
    st.sampled_from(DANGEROUS).map(lambda mn: crafted_global(*mn, stack=True)),
    st.tuples(LINE, LINE).map(lambda mn: crafted_global(*mn, stack=False)),
    st.tuples(NAME, NAME).map(lambda mn: crafted_global(*mn, stack=True)),
)


# --- 1, 2: every experiment's keys, as text ------------------------------------------------

SPECIAL = (
    "nan", "-nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e-999", "-0", "+0",
    "0", "0.0", "0x10", "1_000", " 7 ", "7\n", "1,", ",", ",,", "1,,2", "1,-2", "0,0", "1, 2",
    "١٢", "½", "²", "true", "FALSE", "yes", "", " ", "\n", "\x00", "-", "--", "-h", "--help",
    "--out", "npz:", "npz:/nonexistent.npz", "npz:\n", "é" * 3, "\u202e", "\U0001f600",
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(SPECIAL),
    st.integers(-(10**30), 10**30).map(str),
    st.integers(0, 6000).map(lambda digits: "9" * digits),  # past int()'s 4300-digit limit
    st.floats().map(repr),  # nan, inf, 1e+308, 5e-324, -0.0
    st.lists(st.integers(-5, 10**20), max_size=6).map(lambda xs: ",".join(map(str, xs))),
)
KEYS = {name: [f.name for f in dataclasses.fields(e.config)] for name, e in EXPERIMENTS.items()}


@st.composite
def key_texts(draw, unknown: bool = True) -> tuple[str, dict[str, str]]:
    """An experiment and up to four of its keys (or unknown ones), each with hostile text."""
    name = draw(st.sampled_from(sorted(KEYS)))
    key = st.sampled_from(KEYS[name])
    keys = st.one_of(key, st.text(min_size=1, max_size=8)) if unknown else key
    return name, draw(st.dictionaries(keys, TEXT, max_size=4))


@fuzz(500)
@given(case=key_texts())
@example(case=("mlp-toy", {"epochs": "9" * 5000}))
@example(case=("mlp-toy", {"learning_rate": "1e999", "dnn_hidden_units": "1,,2"}))
@example(case=("cnn", {"\r": ""}))  # an unknown key's name was printed raw: two lines
def test_key_parsers_give_clean_errors(case):
    name, texts = case
    cls = EXPERIMENTS[name].config
    cfg = attempt("keys", lambda: config.build(cls, texts))
    if not isinstance(cfg, UsageError):
        for f in dataclasses.fields(cfg):  # what passed is finite and checked
            value = getattr(cfg, f.name)
            assert not isinstance(value, float) or math.isfinite(value)


def no_training(experiment, cfg, out, *args, **kwargs) -> dict[str, Any]:
    """Stands in for run_experiment: the flags were parsed and checked; nothing runs."""
    assert isinstance(cfg, experiment.config)
    return {"status": "completed", "epochs": 0, "wall_time_s": 0.0}


@fuzz(100)
@given(case=key_texts(unknown=False), joined=st.booleans(), device=st.none() | TEXT)
def test_cli_flags_exit_0_or_2(workdir: Path, case, joined: bool, device):
    name, texts = case
    flags = {**texts, **({"device": device} if device is not None else {})}
    argv = ["train", name, "--out", str(workdir / "never-written"), "--quiet"]
    for key, text in flags.items():
        argv += [f"--{key}={text}"] if joined else [f"--{key}", text]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.runner, "run_experiment", no_training)
        attempt("cli-keys", lambda: run_cli(argv))


# Real runs of the toy MLP, one epoch on 20 points: the --dataset key with hostile values.
TOY = ["train", "mlp-toy", "--epochs", "1", "--n_samples", "20", "--batch_size", "0", "--quiet"]


@fuzz(10)
@given(
    dataset=st.one_of(
        st.sampled_from(["moons", "circles", "classification"]),
        TEXT,
        st.binary(max_size=200).map(lambda blob: ("npz", blob)),
    )
)
def test_cli_dataset_runs_or_exits_2(workdir: Path, dataset):
    folder = fresh(workdir)
    if isinstance(dataset, tuple):  # a .npz of random bytes
        (folder / "data.npz").write_bytes(dataset[1])
        dataset = f"npz:{folder / 'data.npz'}"
    argv = [*TOY, "--dataset", dataset, "--out", str(folder / "run")]
    code, _ = attempt("cli-dataset", lambda: run_cli(argv))
    assert code == 2 or (folder / "run" / "summary.json").is_file()


# --- 3: IDX files (MNIST, Fashion-MNIST) -----------------------------------------------------


def idx(dims: tuple[int, ...], body: bytes, magic: int | None = None) -> bytes:
    magic = 0x800 + len(dims) if magic is None else magic
    return struct.pack(f">I{len(dims)}I", magic, *dims) + body


@st.composite
def resized_idx(draw, rank: int) -> bytes:
    """A right header, its body cut short, exact or too long."""
    dims = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    size = math.prod(dims) + draw(st.integers(-math.prod(dims), 8))
    return idx(dims, draw(st.binary(min_size=size, max_size=size)))


@st.composite
def idx_headers(draw) -> bytes:
    """Any magic and any sizes, up to 2**32 - 1 each (terabytes, claimed by a few bytes)."""
    magic = draw(st.one_of(st.sampled_from([0x801, 0x803, 0x808]), st.integers(0, 2**32 - 1)))
    size = st.integers(0, 2**32 - 1) | st.integers(0, 31).map(lambda k: 1 << k)  # 2**k: overflows
    dims = tuple(draw(st.lists(size, max_size=4)))
    return idx(dims, draw(st.binary(max_size=32)), magic)


@st.composite
def idx_cases(draw) -> tuple[str, bytes]:
    """One of the four files (plain or .gz) with hostile content."""
    stem = draw(st.sampled_from(IDX_FILES))
    rank = 3 if "images" in stem else 1
    blob = draw(st.one_of(st.binary(max_size=200), resized_idx(rank), idx_headers()))
    packing = draw(st.sampled_from(["plain", "gz", "gz-cut", "gz-name"]))
    if packing == "plain":
        return stem, blob
    if packing != "gz-name":  # gz-name: not gzip, though named so
        blob = gzip.compress(blob, mtime=0)
        if packing == "gz-cut":
            blob = blob[: draw(st.integers(0, len(blob) - 1))]
    return f"{stem}.gz", blob


GOOD_IDX = {  # 3 training and 2 test images of 4x4 pixels, with their labels
    "train-images-idx3-ubyte": idx((3, 4, 4), bytes(range(48))),
    "train-labels-idx1-ubyte": idx((3,), bytes([0, 1, 2])),
    "t10k-images-idx3-ubyte": idx((2, 4, 4), bytes(32)),
    "t10k-labels-idx1-ubyte": idx((2,), bytes([9, 0])),
}


@fuzz(300)
@given(case=idx_cases())
@example(case=("train-images-idx3-ubyte", idx((2**31, 2**31, 4), b"")))  # 2**64: int64 wraps
@example(case=("train-images-idx3-ubyte", idx((2**32 - 1,) * 3, bytes(64))))
def test_idx_files_give_clean_errors(workdir: Path, case):
    name, blob = case
    folder = fresh(workdir) / "mnist"
    folder.mkdir()
    for stem, good in GOOD_IDX.items():
        if not name.startswith(stem):
            (folder / stem).write_bytes(good)
    (folder / name).write_bytes(blob)
    data = attempt("idx", lambda: load_images("mnist", folder.parent, system_dirs={}))
    if not isinstance(data, UsageError):
        assert data.X_train.ndim == 4 and len(data.X_train) == len(data.y_train)


# --- 4: CIFAR-10 batches ---------------------------------------------------------------------


def cifar_batch(n: int, protocol: int) -> bytes:
    rng = np.random.default_rng(n)
    batch = {
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"img_%d.png" % i for i in range(n)],
    }
    return pickle.dumps(batch, protocol=protocol)


GOOD_BATCHES = [cifar_batch(n, protocol) for n in (1, 2) for protocol in (2, 4)]
RAGGED_LABELS = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [[1], [1, 2]]})
CIFAR_CASES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(GOOD_BATCHES).flatmap(cut_or_flip),
    GLOBALS,
    st.tuples(st.sampled_from(PAYLOADS), st.sampled_from([2, 4])).map(  # inside a batch
        lambda pp: pickle.dumps({b"data": pp[0], b"labels": [0]}, protocol=pp[1])
    ),
    st.sampled_from([[[1], [1, 2]], [None], ["1"], [2**70], []]).map(  # odd labels
        lambda labels: pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": labels})
    ),
)


@fuzz(150)
@given(batch=st.sampled_from(CIFAR_BATCHES), blob=CIFAR_CASES)
@example(batch="data_batch_1", blob=RAGGED_LABELS)  # were a ValueError from np.asarray
@example(batch="test_batch", blob=crafted_global("os\nx", "system", stack=True))  # two lines
def test_cifar_batches_give_clean_errors(workdir: Path, batch: str, blob: bytes):
    folder = fresh(workdir) / CIFAR_FOLDER
    folder.mkdir()
    for name in CIFAR_BATCHES:
        (folder / name).write_bytes(blob if name == batch else GOOD_BATCHES[0])
    data = attempt("cifar", lambda: load_images("cifar10", folder.parent))
    if not isinstance(data, UsageError):
        assert data.X_train.shape[1:] == (3, 32, 32) and len(data.X_test) == len(data.y_test)


# --- 5: .npz files ---------------------------------------------------------------------------

DTYPES = st.one_of(
    npst.integer_dtypes(), npst.unsigned_integer_dtypes(), npst.floating_dtypes(),
    npst.boolean_dtypes(), npst.complex_number_dtypes(), npst.datetime64_dtypes(),
    npst.unicode_string_dtypes(max_len=3), npst.byte_string_dtypes(max_len=3),
)  # fmt: skip
SHAPES = npst.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3)


@st.composite
def npz_arrays(draw) -> dict[str, np.ndarray]:
    """The four arrays, often of agreeing lengths; any dtype and shape; keys may be missing."""
    arrays = {}
    for split in ("train", "test"):
        n = draw(st.integers(0, 3))
        X_shape = draw(SHAPES)
        if X_shape and draw(st.booleans()):  # as many rows as labels
            X_shape = (n, *X_shape[1:])
        y_dtype = draw(st.one_of(npst.integer_dtypes(), DTYPES))
        y_shape = draw(st.one_of(st.just((n,)), SHAPES))
        arrays[f"X_{split}"] = draw(npst.arrays(draw(DTYPES), X_shape))
        if y_dtype.kind in "iu":
            labels = st.integers(-1 if y_dtype.kind == "i" else 0, 9)
            arrays[f"y_{split}"] = draw(npst.arrays(y_dtype, y_shape, elements=labels))
        else:
            arrays[f"y_{split}"] = draw(npst.arrays(y_dtype, y_shape))
    dropped = draw(st.sets(st.sampled_from(sorted(arrays)), max_size=1))
    return {k: v for k, v in arrays.items() if k not in dropped}


def npz_bytes(arrays: dict[str, Any], compressed: bool = False) -> bytes:
    out = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(out, **arrays)
    return out.getvalue()


@st.composite
def npz_claims(draw) -> bytes:
    """A .npz whose X_train header claims any shape (petabytes, or sizes whose product
    overflows) over a few bytes of data."""
    shape = tuple(draw(st.lists(st.integers(0, 2**63 - 1), max_size=3)))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("X_train.npy", header.getvalue() + bytes(draw(st.integers(0, 64))))
        for key, value in (("y_train", [0]), ("X_test", [[0.0]]), ("y_test", [0])):
            zf.writestr(f"{key}.npy", npy_bytes(np.array(value)))
    return out.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


NPZ_ARRAYS = {
    "X_train": np.ones((4, 2)), "y_train": np.arange(4) % 2,
    "X_test": np.ones((2, 2)), "y_test": np.arange(2),
}  # fmt: skip
GOOD_NPZ = [npz_bytes(NPZ_ARRAYS, compressed) for compressed in (False, True)]
NPZ_CASES = st.one_of(
    st.tuples(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY\x01\x00"]),
              st.binary(max_size=200)).map(b"".join),
    st.sampled_from(GOOD_NPZ).flatmap(cut_or_flip),
    st.tuples(npz_arrays(), st.booleans()).map(lambda ac: npz_bytes(*ac)),
    npz_claims(),
    st.sampled_from(PAYLOADS).map(  # object arrays: pickles, which allow_pickle=False refuses
        lambda payload: npz_bytes({**NPZ_ARRAYS, "X_train": np.array([payload, 1], dtype=object)})
    ),
    st.just(npy_bytes(np.ones((2, 2)))),  # a .npy, not a .npz
)  # fmt: skip


def _central_entry_byte(blob: bytes, offset: int, value: int) -> bytes:
    """`blob` with one byte of its first central-directory entry set (offset from "PK\1\2")."""
    at = blob.index(b"PK\x01\x02") + offset
    return blob[:at] + bytes([value]) + blob[at + 1 :]


@fuzz(250)
@given(blob=NPZ_CASES, as_images=st.booleans())
@example(blob=_central_entry_byte(GOOD_NPZ[0], 8, 1), as_images=False)  # "encrypted": RuntimeError
@example(blob=_central_entry_byte(GOOD_NPZ[0], 10, 1), as_images=False)  # method 1: NotImplemented
@example(blob=b"", as_images=False)  # were EOFError, TypeError, ValueError and TypeError
@example(blob=npy_bytes(np.ones((2, 2))), as_images=False)
@example(blob=npz_bytes({**NPZ_ARRAYS, "X_train": np.array(["a", "b", "c", "d"])}), as_images=True)
@example(blob=npz_bytes({**NPZ_ARRAYS, "X_train": np.array(1.0)}), as_images=False)
def test_npz_files_give_clean_errors(workdir: Path, blob: bytes, as_images: bool):
    path = fresh(workdir) / "data.npz"
    path.write_bytes(blob)
    if as_images:
        attempt("npz", lambda: load_images(f"npz:{path}", workdir))
    else:
        data = attempt("npz", lambda: load_npz(str(path)))
        if not isinstance(data, UsageError):
            assert len(data.X_train) == len(data.y_train) > 0 and data.y_train.ndim == 1


# --- 6: checkpoints --------------------------------------------------------------------------


def torch_bytes(obj: Any, zipped: bool = True) -> bytes:
    out = io.BytesIO()
    torch.save(obj, out, _use_new_zipfile_serialization=zipped)
    return out.getvalue()


STATE = {  # a checkpoint's shape: learner state, RNG state, loop state
    "learner": {"model": {"weight": torch.randn(3, 2), "bias": torch.zeros(3)}},
    "torch_rng": torch.get_rng_state(),
    "loop": {"step": 1, "epoch": 1},
}
GOOD_CHECKPOINTS = [torch_bytes(STATE, zipped) for zipped in (True, False)]
NOT_CHECKPOINTS = st.one_of(  # random bytes, code to run
    st.tuples(st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04"]),
              st.binary(max_size=200)).map(b"".join),
    st.tuples(st.sampled_from(PAYLOADS), st.booleans()).map(
        lambda pz: torch_bytes({**STATE, "learner": pz[0]}, pz[1])
    ),
    GLOBALS,
)  # fmt: skip
CHECKPOINT_CASES = NOT_CHECKPOINTS | st.sampled_from(GOOD_CHECKPOINTS).flatmap(cut_or_flip)


@fuzz(250)
@given(blob=CHECKPOINT_CASES)
@example(blob=b"")  # was an EOFError; every other failure an UnpicklingError or RuntimeError
def test_checkpoints_give_clean_errors(workdir: Path, blob: bytes):
    run = RunDir(fresh(workdir))
    run.file(CHECKPOINT).write_bytes(blob)
    attempt("checkpoint", run.load_checkpoint)


@pytest.fixture(scope="module")
def toy_run(workdir: Path) -> Path:
    """One real run of the toy MLP, once: --resume needs its config.json."""
    out = workdir / "toy-run"
    code, err = run_cli([*TOY, "--out", str(out)])
    assert code == 0, err
    return out


def resume(workdir: Path, toy_run: Path, checkpoint: bytes) -> tuple[int, str]:
    """--resume of the toy run from a copy of its config.json and this checkpoint.pt."""
    out = fresh(workdir)
    shutil.copy(toy_run / CONFIG, out / CONFIG)  # no summary.json: the run is unfinished
    (out / CHECKPOINT).write_bytes(checkpoint)
    return run_cli([*TOY, "--out", str(out), "--resume"])


# The run's own checkpoint cut short or grown, or another file in its place. (Not a byte
# changed: that can leave a checkpoint that loads; see the next test.)
RESUME_CASES = st.one_of(
    st.integers(0, 2**20).map(lambda n: ("cut", n)),
    st.binary(min_size=1, max_size=16).map(lambda tail: ("grow", tail)),
    NOT_CHECKPOINTS.map(lambda blob: ("replace", blob)),
)


@fuzz(10)
@given(case=RESUME_CASES)
@example(case=("replace", b""))
def test_resume_from_a_broken_checkpoint_exits_2(workdir: Path, toy_run: Path, case):
    good = (toy_run / CHECKPOINT).read_bytes()
    how, arg = case
    blob = good[: arg % len(good)] if how == "cut" else good + arg if how == "grow" else arg
    code, err = attempt("cli-resume", lambda: resume(workdir, toy_run, blob))
    assert code == 0 or "checkpoint.pt: not a readable checkpoint" in err


def test_resume_from_a_checkpoint_that_loads_but_does_not_fit(workdir: Path, toy_run: Path):
    """One changed byte can rename a key, and the file still loads: torch does not check the
    CRCs of the zip's members."""
    good = (toy_run / CHECKPOINT).read_bytes()
    code, err = resume(workdir, toy_run, good.replace(b"learner", b"learneX", 1))
    assert code == 2 and "checkpoint" in err


# --- the controls: valid input is accepted where each property above passes on a refusal ---


def accepted(prop: str, call: Callable[[], Any]) -> Any:
    result = attempt(prop, call)
    assert not isinstance(result, UsageError), f"{prop}: valid input refused: {result}"
    return result


def test_every_property_accepts_valid_input(workdir: Path, toy_run: Path):
    """A property that passes on a UsageError could pass on a loader that refuses all: the
    same calls, on valid input, must accept it."""
    for name, experiment in EXPERIMENTS.items():
        fields = dataclasses.fields(experiment.config)
        defaults = {f.name: config.format_value(f.default) for f in fields}
        accepted("keys", lambda: config.build(experiment.config, defaults))  # noqa: B023
        argv = ["train", name, "--out", str(fresh(workdir) / "run"), "--quiet"]
        if "dataset" in defaults and name != "mlp-toy":
            argv += ["--dataset", "digits"]  # on any machine, with no data set installed
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cli.runner, "run_experiment", no_training)
            code, err = accepted("cli-keys", lambda: run_cli(argv))  # noqa: B023
            assert code == 0, err
    folder = fresh(workdir)
    assert accepted("cli-dataset", lambda: run_cli([*TOY, "--out", str(folder / "run")]))[0] == 0
    assert (folder / "run" / "summary.json").is_file()

    mnist = fresh(workdir) / "mnist"
    mnist.mkdir()
    for stem, good in GOOD_IDX.items():
        (mnist / stem).write_bytes(good)
    data = accepted("idx", lambda: load_images("mnist", mnist.parent, system_dirs={}))
    assert data.X_train.shape == (3, 1, 4, 4) and list(data.y_test) == [9, 0]

    cifar = fresh(workdir) / CIFAR_FOLDER
    cifar.mkdir()
    for name in CIFAR_BATCHES:
        (cifar / name).write_bytes(GOOD_BATCHES[3])  # 2 images, protocol 4
    data = accepted("cifar", lambda: load_images("cifar10", cifar.parent))
    assert data.X_test.shape == (2, 3, 32, 32)

    for blob in GOOD_NPZ:
        path = fresh(workdir) / "data.npz"
        path.write_bytes(blob)
        data = accepted("npz", lambda: load_npz(str(path)))  # noqa: B023
        assert data.X_train.shape == (4, 2) and list(data.y_test) == [0, 1]

    for blob in GOOD_CHECKPOINTS:
        run = RunDir(fresh(workdir))
        run.file(CHECKPOINT).write_bytes(blob)
        assert torch.equal(
            accepted("checkpoint", run.load_checkpoint)["torch_rng"], STATE["torch_rng"]
        )
    good = (toy_run / CHECKPOINT).read_bytes()
    assert accepted("cli-resume", lambda: resume(workdir, toy_run, good))[0] == 0


# --- 7: sizes past the machine, and config.json's values -----------------------------------

MAGNITUDE = st.integers(0, 15).flatmap(lambda e: st.integers(1, 10**e))  # 1 .. 10^15
SIZES = {  # the keys that size a run, each with numbers of every magnitude as its text
    "n_samples": MAGNITUDE.map(str),
    "batch_size": MAGNITUDE.map(str),
    "num_hidden": MAGNITUDE.map(str),
    "input_length": MAGNITUDE.map(str),
    "data_size": MAGNITUDE.map(str),
    "eval_size": MAGNITUDE.map(str),
    "dnn_hidden_units": st.lists(MAGNITUDE, min_size=1, max_size=4).map(
        lambda units: ",".join(map(str, units))
    ),
    "width": st.floats(-3, 12).map(lambda e: f"{10**e:g}"),
    "depth": st.integers(1, 10**6).map(lambda n: str(6 * n + 2)),
}


def _memory_parts(name: str, cfg: Any) -> list:
    """The experiment's memory estimate for its config, on the data's shape alone."""
    from classicnets.experiments import cnn, mlp_images, mlp_toy, resnet, rnn_images, rnn_palindrome

    if name == "rnn-palindrome":
        return rnn_palindrome.memory_parts(cfg)
    if name == "mlp-toy":
        return mlp_toy.memory_parts(cfg, cfg.n_samples, cfg.n_samples // 4, 2, 2)
    modules = {"mlp-images": mlp_images, "cnn": cnn, "resnet": resnet, "rnn-images": rnn_images}
    return modules[name].memory_parts(cfg, (3, 32, 32), 10)


@fuzz(300)
@given(name=st.sampled_from(sorted(KEYS)), data=st.data())
@example(name="rnn-palindrome", data=None)
def test_memory_estimates_fit_or_refuse_in_one_line(name: str, data):
    """Any config with sizes of any magnitude: the estimate is made in milliseconds, from
    the config alone, and a run past a 24 GiB machine is one line naming one of its keys."""
    from classicnets.experiments import memory

    cls = EXPERIMENTS[name].config
    sized = st.sampled_from([k for k in SIZES if k in KEYS[name]])
    if data is None:  # the example: T = 10^7, 1 TB of buffers
        texts = {"input_length": "10000000"}
    else:
        chosen = data.draw(st.sets(sized, min_size=1, max_size=3))
        texts = {k: data.draw(SIZES[k]) for k in sorted(chosen)}
    cfg = attempt("memory", lambda: config.build(cls, texts))
    if isinstance(cfg, UsageError):
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory, "machine_bytes", lambda: 24 * 2**30)
        refused = attempt("memory", lambda: memory.check(_memory_parts(name, cfg)))
    if isinstance(refused, UsageError):
        key = str(refused).split(" ", 1)[0]
        assert key.startswith("--") and key[2:] in KEYS[name], refused


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@fuzz(300)
@given(name=st.sampled_from(sorted(KEYS)), data=st.data())
def test_a_damaged_config_json_is_one_line_naming_its_key(name: str, data):
    cls = EXPERIMENTS[name].config
    values = data.draw(st.dictionaries(st.sampled_from(KEYS[name]), JSON_VALUES, max_size=3))
    cfg = attempt("config.json", lambda: config.from_dict(cls, values, "run/config.json"))
    if isinstance(cfg, UsageError):
        assert str(cfg).startswith("run/config.json: ") and "damaged" in str(cfg)
        assert str(cfg).split(" ")[1] in values, cfg  # the key it names is one it was given
    else:  # what it took is what build would take from the same values as text
        assert cfg == config.build(cls, {k: config.format_value(getattr(cfg, k)) for k in values})
