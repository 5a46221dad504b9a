"""The image loaders and the download under them, on small files in the real formats, served
by a local HTTP server that can honour or ignore Range requests and drop a connection."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from classicnets.data import images
from classicnets.data.download import download, safe_extract_tar
from classicnets.data.images import CLASS_NAMES, IMAGE_DATASETS, load_images, read_idx
from classicnets.errors import UsageError

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
PER_BATCH = 6  # images per CIFAR batch here (10000 in the real one)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- a local server -----------------------------------------------------------------------


class Server:
    """What the handler serves and what it saw."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.ranges: list[str] = []  # Range headers received
        self.requests = 0
        self.cut_after: int | None = None  # the next response stops after this many bytes
        self.honour_range = True
        self.url = ""


def _handler(state: Server):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests += 1
            body = state.files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            start, requested = 0, self.headers.get("Range")
            if requested:
                state.ranges.append(requested)
            if requested and state.honour_range:
                start = int(requested.removeprefix("bytes=").rstrip("-"))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            payload = body[start:]
            if state.cut_after is not None:  # a dropped connection: fewer bytes than promised
                payload, state.cut_after = payload[: state.cut_after], None
                self.close_connection = True
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # never through a proxy set for the machine
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield state
    httpd.shutdown()
    httpd.server_close()


# --- CIFAR-10 files as the real ones are written ------------------------------------------


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 wrote its str (BINSTRING), as in the official batches."""

    def save_bytes(self, obj: bytes):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, bytes: save_bytes}


def py2_pickle(obj) -> bytes:
    out = io.BytesIO()
    Py2Pickler(out, protocol=2).dump(obj)
    # The official files name NumPy 1's module, as NumPy 1 wrote them.
    return out.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def cifar_batches(seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    batches = {}
    for k, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        batches[name] = {
            b"batch_label": f"batch {k}".encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, PER_BATCH)],
            b"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
            b"filenames": [f"img_{k}_{i}.png".encode() for i in range(PER_BATCH)],
        }
    return batches


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def file_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def cifar_archive(batches: dict[str, dict], dump=py2_pickle) -> bytes:
    top = tarfile.TarInfo(FOLDER)
    top.type = tarfile.DIRTYPE
    files = {name: dump(batch) for name, batch in batches.items()}
    files["batches.meta"] = dump({b"label_names": [n.encode() for n in CLASS_NAMES["cifar10"]]})
    return tar_gz([(top, None), *(file_member(f"{FOLDER}/{n}", b) for n, b in files.items())])


def write_cifar_folder(folder: Path, batches: dict[str, dict], dump=py2_pickle) -> None:
    folder.mkdir(parents=True)
    for name, batch in batches.items():
        (folder / name).write_bytes(dump(batch))


@pytest.fixture
def cifar(server: Server, monkeypatch: pytest.MonkeyPatch):
    """The batches, served as the official archive (with its MD5 in the table)."""
    batches = cifar_batches()
    server.files[ARCHIVE] = cifar_archive(batches)
    monkeypatch.setitem(images.CHECKSUMS["cifar10"], ARCHIVE, md5(server.files[ARCHIVE]))
    return batches


def check_cifar(data, batches: dict[str, dict]) -> None:
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    assert data.X_train.shape == (5 * PER_BATCH, 3, 32, 32) and data.X_train.dtype == np.uint8
    assert data.X_test.shape == (PER_BATCH, 3, 32, 32) and data.y_test.dtype == np.int64
    expected = np.concatenate([b[b"data"] for b in train]).reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(data.X_train, expected)
    np.testing.assert_array_equal(data.y_train, sum((b[b"labels"] for b in train), []))
    np.testing.assert_array_equal(data.y_test, batches["test_batch"][b"labels"])
    assert data.num_classes == 10 and data.mean is None


def test_cifar_downloads_extracts_and_loads(tmp_path: Path, server: Server, cifar):
    data = load_images("cifar10", tmp_path, download=True, progress=False, mirror=server.url)
    check_cifar(data, cifar)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ARCHIVE, FOLDER])
    requests = server.requests
    check_cifar(load_images("cifar10", tmp_path, download=True, mirror=server.url), cifar)
    assert server.requests == requests  # present: not fetched again


def test_cifar_batches_pickled_by_python3_load_too(tmp_path: Path):
    batches = cifar_batches(1)
    write_cifar_folder(tmp_path / FOLDER, batches, lambda batch: pickle.dumps(batch, protocol=2))
    check_cifar(load_images("cifar10", tmp_path), batches)


def test_wrong_checksum_leaves_nothing(tmp_path: Path, server: Server, cifar, monkeypatch):
    monkeypatch.setitem(images.CHECKSUMS["cifar10"], ARCHIVE, "0" * 32)
    with pytest.raises(UsageError, match=f"md5 {md5(server.files[ARCHIVE])}, expected 0{{32}}"):
        load_images("cifar10", tmp_path, download=True, progress=False, mirror=server.url)
    assert list(tmp_path.iterdir()) == []


def test_truncated_archive_leaves_no_folder(tmp_path: Path, server: Server, monkeypatch):
    truncated = cifar_archive(cifar_batches())[:3000]
    server.files[ARCHIVE] = truncated
    monkeypatch.setitem(images.CHECKSUMS["cifar10"], ARCHIVE, md5(truncated))
    with pytest.raises(UsageError, match="truncated or corrupt.*rerun with --download"):
        load_images("cifar10", tmp_path, download=True, progress=False, mirror=server.url)
    assert [p.name for p in tmp_path.iterdir()] == [ARCHIVE]  # no folder, no scratch folder


@pytest.mark.parametrize("honour_range", [True, False])
def test_cut_off_download_resumes(tmp_path: Path, server: Server, cifar, honour_range: bool):
    server.cut_after, server.honour_range = 5000, honour_range
    with pytest.raises(UsageError, match=r"partial file .*\.part \(5000 bytes\) was kept"):
        load_images("cifar10", tmp_path, download=True, progress=False, mirror=server.url)
    assert (tmp_path / f"{ARCHIVE}.part").stat().st_size == 5000
    assert not (tmp_path / ARCHIVE).exists()
    data = load_images("cifar10", tmp_path, download=True, progress=True, mirror=server.url)
    assert server.ranges == ["bytes=5000-"]  # asked for the rest only (a 200 restarts)
    assert (tmp_path / ARCHIVE).read_bytes() == server.files[ARCHIVE]
    check_cifar(data, cifar)


def test_download_errors_are_usage_errors(tmp_path: Path, server: Server):
    with pytest.raises(UsageError, match="HTTP 404"):
        download(server.url + "absent", tmp_path / "absent", "0" * 32, progress=False)
    with socket.socket() as sock:  # a port that nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/file"
    with pytest.raises(UsageError, match="stopped .*rerun to resume"):
        download(url, tmp_path / "file", "0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


# --- safe extraction ----------------------------------------------------------------------


def member(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


@pytest.mark.parametrize(
    "bad",
    [
        lambda root: file_member("../x", b"escaped"),
        lambda root: file_member(f"{FOLDER}/../../x", b"escaped"),
        lambda root: file_member(str(root / "x"), b"escaped"),  # absolute
        lambda root: member(f"{FOLDER}/evil", tarfile.SYMTYPE, "../../x"),
        lambda root: member(f"{FOLDER}/evil", tarfile.LNKTYPE, str(root / "x")),
        lambda root: member(f"{FOLDER}/fifo", tarfile.FIFOTYPE),
        lambda root: member(f"{FOLDER}/dev", tarfile.CHRTYPE),
        lambda root: file_member("other-folder/x", b"second top folder"),
    ],
    ids=["dotdot", "inner-dotdot", "absolute", "symlink", "hardlink", "fifo", "device", "2-tops"],
)
def test_unsafe_members_are_refused(tmp_path: Path, bad):
    good = file_member(f"{FOLDER}/data_batch_1", b"fine")
    archive = tmp_path / "work" / ARCHIVE
    archive.parent.mkdir()
    # A member that sneaks a path through a link comes after it, as in real attacks.
    archive.write_bytes(tar_gz([good, bad(tmp_path), file_member(f"{FOLDER}/evil/x", b"!")]))
    with pytest.raises(UsageError, match="refusing member|outside its one top folder"):
        safe_extract_tar(archive, archive.parent / FOLDER)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [ARCHIVE, "work"]


# --- a batch that would run code ----------------------------------------------------------


class Payload:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


def payloads(marker: Path):
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [
        (os.system, f"touch {marker}"),
        (eval, touch),
        (subprocess.call, ["touch", str(marker)]),
    ]


@pytest.mark.parametrize("which", range(3), ids=["os.system", "eval", "subprocess.call"])
def test_batch_that_runs_code_is_refused(tmp_path: Path, which: int):
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(*payloads(proof)[which]), protocol=2))
    assert proof.exists()  # the payload is live: plain pickle runs it

    marker = tmp_path / "ran"
    func, arg = payloads(marker)[which]
    folder = tmp_path / "data" / FOLDER
    write_cifar_folder(folder, cifar_batches())
    evil = {b"data": Payload(func, arg), b"labels": [0]}
    (folder / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=2))
    # Protocol 2 writes Python 2's names: posix.system, __builtin__.eval, commands.call.
    refused = rf"data_batch_3: refusing to unpickle \w+\.{func.__name__}; "
    with pytest.raises(UsageError, match=refused):
        load_images("cifar10", tmp_path / "data")
    assert not marker.exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda blob: blob[: len(blob) // 2], "not a readable CIFAR-10 batch"),
        (lambda blob: b"garbage", "not a readable CIFAR-10 batch"),
        (lambda blob: py2_pickle([1, 2]), "not a CIFAR-10 batch"),
        (lambda blob: py2_pickle({b"data": np.zeros((2, 3072), np.uint8)}), "2 integer labels"),
        (lambda blob: py2_pickle({b"data": np.zeros((2, 5), np.uint8)}), "shape"),
        (
            lambda blob: py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}),
            "expected 0..9",
        ),
    ],
)
def test_damaged_batch_is_a_usage_error(tmp_path: Path, damage, message: str):
    write_cifar_folder(tmp_path / FOLDER, cifar_batches())
    test_batch = tmp_path / FOLDER / "test_batch"
    test_batch.write_bytes(damage(test_batch.read_bytes()))
    with pytest.raises(UsageError, match=f"test_batch: .*{message}"):
        load_images("cifar10", tmp_path)


# --- MNIST and Fashion-MNIST (IDX) --------------------------------------------------------


def idx(array: np.ndarray) -> bytes:
    header = struct.pack(f">I{array.ndim}I", 0x800 + array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_files(n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8)[::-1] % 10,
    }


def write_idx(folder: Path, arrays: dict[str, np.ndarray], gz: tuple[str, ...] = ()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        if stem in gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(idx(array)))
        else:
            (folder / stem).write_bytes(idx(array))


def check_idx(data, arrays: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(data.X_train[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.X_test[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.X_train.shape[1:] == (1, 28, 28) and data.X_train.dtype == np.uint8
    assert data.y_train.dtype == np.int64 and data.num_classes == 10


def test_idx_plain_and_gz_round_trip(tmp_path: Path):
    arrays = idx_files()
    write_idx(tmp_path / "mnist", arrays, gz=("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    check_idx(load_images("mnist", tmp_path), arrays)


def test_fashion_mnist_falls_back_to_the_system_dirs(tmp_path: Path):
    arrays = idx_files(seed=3)
    write_idx(tmp_path / "system", arrays, gz=tuple(arrays))
    dirs = {"fashion-mnist": (tmp_path / "system",)}
    check_idx(load_images("fashion-mnist", tmp_path / "data", system_dirs=dirs), arrays)


@pytest.mark.parametrize(
    "name, folder, gz",
    [
        ("fashion-mnist", "FashionMNIST", True),  # torchvision keeps the .gz it fetched
        ("mnist", "MNIST", False),  # and the files it unpacked from them
    ],
)
def test_torchvision_layout_is_found(tmp_path: Path, name: str, folder: str, gz: bool):
    """DATA_DIR/FashionMNIST/raw/ and DATA_DIR/MNIST/raw/, as torchvision's datasets leave
    them, are read where they are: nothing copied, nothing downloaded."""
    arrays = idx_files(seed=7)
    raw = tmp_path / "data" / folder / "raw"
    write_idx(raw, arrays, gz=tuple(arrays) if gz else ())
    nowhere = {name: ()}  # not Debian's folder, if this machine has it
    assert images.available(name, tmp_path / "data", system_dirs=nowhere)
    assert not images.available(name, tmp_path / "empty", system_dirs=nowhere)
    check_idx(load_images(name, tmp_path / "data", system_dirs=nowhere), arrays)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [folder]  # wrote nothing


def test_own_folder_comes_before_torchvision_layout(tmp_path: Path):
    ours, theirs = idx_files(seed=1), idx_files(seed=2)
    write_idx(tmp_path / "mnist", ours)
    write_idx(tmp_path / "MNIST" / "raw", theirs)
    check_idx(load_images("mnist", tmp_path), ours)


def test_mnist_downloads_from_the_mirror(tmp_path: Path, server: Server, monkeypatch):
    arrays = idx_files(seed=5)
    for stem, array in arrays.items():
        blob = server.files[f"{stem}.gz"] = gzip.compress(idx(array))
        monkeypatch.setitem(images.CHECKSUMS["mnist"], f"{stem}.gz", md5(blob))
    data = load_images("mnist", tmp_path, download=True, progress=False, mirror=server.url)
    check_idx(data, arrays)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(server.files)


@pytest.mark.parametrize(
    "stem, content, message",
    [
        ("train-images-idx3-ubyte", b"\x00\x00\x08\x01" + bytes(8), "magic 0x00000801"),
        ("train-images-idx3-ubyte", idx(np.zeros((12, 28, 28)))[:-1], "bytes where its sizes"),
        ("train-images-idx3-ubyte", b"\x00\x00\x08\x03" + bytes(8), "shorter than its 16-byte"),
        ("train-labels-idx1-ubyte", idx(np.full(12, 10)), "label 10 is not a class"),
        ("t10k-labels-idx1-ubyte", idx(np.zeros(4)), "5 images but .* 4 labels"),
        ("t10k-labels-idx1-ubyte.gz", b"not gzip at all", "unreadable"),
        ("t10k-labels-idx1-ubyte.gz", gzip.compress(idx(np.zeros(5)))[:-12], "unreadable"),
    ],
)
def test_idx_garbage_is_a_usage_error(tmp_path: Path, stem: str, content: bytes, message: str):
    arrays = idx_files()
    write_idx(tmp_path / "mnist", arrays)
    target = tmp_path / "mnist" / stem
    target.with_name(stem.removesuffix(".gz")).unlink()
    target.write_bytes(content)
    with pytest.raises(UsageError, match=message) as caught:
        load_images("mnist", tmp_path)
    assert "\n" not in str(caught.value)


def test_read_idx_of_full_size(tmp_path: Path):
    array = np.resize(np.arange(251, dtype=np.uint8), (60000, 28, 28))
    (tmp_path / "images").write_bytes(idx(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "images", rank=3), array)


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path: Path):
    data_dir, system = tmp_path / "data", tmp_path / "system"
    with pytest.raises(UsageError) as caught:
        load_images("fashion-mnist", data_dir, system_dirs={"fashion-mnist": (system,)})
    assert str(caught.value) == (
        f"fashion-mnist not found in {data_dir / 'fashion-mnist'}, "
        f"{data_dir / 'FashionMNIST' / 'raw'} or {system}; pass --download "
        "true (30 MB from fashion-mnist.s3-website.eu-central-1.amazonaws.com), or apt-get "
        "install dataset-fashion-mnist"
    )
    with pytest.raises(UsageError, match=f"cifar10 not found in {data_dir / FOLDER}; pass "):
        load_images("cifar10", data_dir)
    with pytest.raises(UsageError, match="unknown data set; choose cifar10, mnist"):
        load_images("imagenet", data_dir)
    assert not data_dir.exists()  # looking writes nothing


# --- digits, .npz and the real Fashion-MNIST ----------------------------------------------


def test_digits():
    data = load_images("digits", Path("unused"))
    assert data.X_train.shape == (1437, 1, 8, 8) and data.X_test.shape == (360, 1, 8, 8)
    assert data.X_train.dtype == np.uint8 and data.X_train.max() == 255
    assert np.bincount(data.y_test).min() >= 35  # stratified: ~36 of each digit
    assert data.num_classes == 10 and data.y_train.dtype == np.int64


@pytest.mark.parametrize("dtype, expected", [(np.uint8, np.uint8), (np.float64, np.float32)])
def test_npz_images_gain_a_channel_axis(tmp_path: Path, dtype, expected):
    rng = np.random.default_rng(0)
    path = tmp_path / "my.npz"
    X_train = rng.integers(0, 256, (8, 5, 6)).astype(dtype)
    np.savez(path, X_train=X_train, y_train=np.arange(8) % 3,
             X_test=X_train[:2], y_test=np.array([0, 2]))  # fmt: skip
    data = load_images(f"npz:{path}", tmp_path)
    assert data.X_train.shape == (8, 1, 5, 6) and data.X_train.dtype == expected
    np.testing.assert_array_equal(data.X_train[:, 0], X_train)
    assert data.num_classes == 3


def test_npz_vectors_stay_vectors(tmp_path: Path):
    """N×D (tabular data) is loaded as it is: mlp-images takes it, the others refuse it."""
    path = tmp_path / "flat.npz"
    np.savez(path, X_train=np.ones((4, 3)), y_train=np.arange(4) % 2,
             X_test=np.zeros((2, 3)), y_test=np.array([0, 1]))  # fmt: skip
    data = load_images(f"npz:{path}", tmp_path)
    assert data.X_train.shape == (4, 3) and data.X_train.dtype == np.float32
    np.savez(path, X_train=np.ones((4, 3)), y_train=np.arange(4) % 2,
             X_test=np.zeros((2, 5)), y_test=np.array([0, 1]))  # fmt: skip
    with pytest.raises(UsageError, match=r"X_train vectors are \(3,\) but X_test \(5,\)"):
        load_images(f"npz:{path}", tmp_path)


def test_names():
    assert IMAGE_DATASETS == ("cifar10", "mnist", "fashion-mnist", "digits", "mnist1d")
    assert all(len(CLASS_NAMES[name]) == 10 for name in IMAGE_DATASETS)
    assert CLASS_NAMES["fashion-mnist"][:2] == ("T-shirt/top", "Trouser")


@pytest.mark.skipif(
    not images.FASHION_MNIST_SYSTEM_DIRS[0].is_dir(),
    reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist(tmp_path: Path):
    data = load_images("fashion-mnist", tmp_path)
    assert data.X_train.shape == (60000, 1, 28, 28) and data.X_test.shape == (10000, 1, 28, 28)
    assert data.X_train.dtype == np.uint8 and data.X_train.max() == 255
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
