"""data/registry.py: a data set read once per process (read-only arrays), sizes known without
reading, and a sweep's validation of its trials that reads no data set."""

from __future__ import annotations

import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from classicnets.data import images, registry
from classicnets.errors import UsageError
from classicnets.experiments import SWEEPS
from classicnets.runner.sweep.run import make_plan


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    """An empty cache of loaded sets for each test, and no system folder (this machine may
    have Debian's dataset-fashion-mnist): only the test's own files count."""
    monkeypatch.setattr(registry, "_LOADED", OrderedDict())
    monkeypatch.setattr(images, "SYSTEM_DIRS", {"fashion-mnist": ()})


def _idx(array: np.ndarray) -> bytes:
    header = struct.pack(f">I{array.ndim}I", 0x800 + array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(data_dir: Path, n_train: int = 20, n_test: int = 10) -> Path:
    """Four real-format IDX files (tiny) under data_dir/fashion-mnist."""
    folder = data_dir / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for stem, array in arrays.items():
        (folder / stem).write_bytes(_idx(array))
    return folder


def _refuse_to_read(*args, **kwargs):
    raise AssertionError(f"the data set was read: load_images{args}")


def test_a_loaded_set_is_the_same_read_only_object_on_a_second_call(tmp_path, monkeypatch):
    data = registry.load("digits", tmp_path, False, False, None)
    monkeypatch.setattr(images, "load_images", _refuse_to_read)
    again = registry.load("digits", tmp_path, False, False, None)
    assert again is data
    assert registry.load("digits", tmp_path / "." / "", False, False, None) is data  # resolved
    for array in (data.X_train, data.y_train, data.X_test, data.y_test):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    assert (len(data.y_train), len(data.y_test)) == registry.IMAGE_SETS["digits"].sizes


def test_a_users_npz_rewritten_under_its_name_is_read_again(tmp_path):
    path = tmp_path / "mine.npz"

    def write(n: int) -> None:
        X = np.zeros((n, 1, 4, 4), np.float32)
        y = np.arange(n) % 2
        np.savez(path, X_train=X, y_train=y, X_test=X[:2], y_test=y[:2])

    write(6)
    first = registry.load(f"npz:{path}", tmp_path, False, False, None)
    assert registry.load(f"npz:{path}", tmp_path, False, False, None) is first
    write(8)
    second = registry.load(f"npz:{path}", tmp_path, False, False, None)
    assert second is not first and len(second.y_train) == 8


def test_sizes_of_a_missing_set_is_the_error_loading_gives(tmp_path):
    with pytest.raises(UsageError) as caught:
        registry.sizes("fashion-mnist", tmp_path, download=False)
    assert str(caught.value) == (
        f"fashion-mnist not found in {tmp_path / 'fashion-mnist'} or "
        f"{tmp_path / 'FashionMNIST' / 'raw'}; "
        f"{images.HOW_TO_GET['fashion-mnist']}"
    )


def test_sizes_of_a_present_set_reads_none_of_it(tmp_path, monkeypatch):
    write_fashion(tmp_path)
    monkeypatch.setattr(images, "load_images", _refuse_to_read)
    assert registry.sizes("fashion-mnist", tmp_path, download=False) == (60_000, 10_000)
    # the same in Debian's folder, where the quick suite finds it
    system = tmp_path / "usr-share"
    write_fashion(system)
    monkeypatch.setattr(images, "SYSTEM_DIRS", {"fashion-mnist": (system / "fashion-mnist",)})
    assert registry.sizes("fashion-mnist", tmp_path / "empty", download=False) == (60_000, 10_000)


def test_validating_a_sweep_reads_no_data_set(tmp_path, monkeypatch):
    write_fashion(tmp_path / "data")
    calls = []
    real = images.load_images

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(images, "load_images", counted)
    sweep = SWEEPS["rnn-images-grid"]
    keys = {"dataset": "fashion-mnist", "data_dir": str(tmp_path / "data")}
    plan = make_plan(sweep, keys, tmp_path / "S", "cpu", False, 1, None, 0)
    assert len(plan.trials) == len(sweep.trials) == 24
    assert all(trial_keys["dataset"] == "fashion-mnist" for _, _, trial_keys in plan.trials)
    assert calls == []
    assert not (tmp_path / "S").exists()  # nothing written either
    # and with the files gone, the same validation says so, still without reading
    for f in (tmp_path / "data" / "fashion-mnist").iterdir():
        f.unlink()
    with pytest.raises(UsageError, match=r"^fashion-mnist not found in "):
        make_plan(sweep, keys, tmp_path / "S", "cpu", False, 1, None, 0)
