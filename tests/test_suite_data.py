"""`classicnets run`'s data: Fashion-MNIST used where it is, downloaded (MD5-checked) where it
is not, and only when that download fails the quick suite falls back to digits, in one line;
the report then names the data each section actually used. The download is served by a
local HTTP server on 127.0.0.1 with real-format gzipped IDX files, through the mirror
variable a user would set."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from classicnets.data import images, registry
from classicnets.errors import UsageError
from classicnets.experiments import SUITES, SuiteSweep
from classicnets.experiments.images import MIRROR_ENV
from classicnets.runner.suite import suite_dataset, suite_keys
from tests import test_image_loaders as loaders
from tests.conftest import read_json
from tests.test_image_loaders import check_idx, idx, idx_files, md5

server = loaders.server  # the fixture: a local server whose files the test sets


@pytest.fixture(autouse=True)
def _no_fashion_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Only the test's files count (not Debian's folder, if this machine has it), from an
    empty working directory, with no data set cached from another test."""
    monkeypatch.setattr(images, "SYSTEM_DIRS", {"fashion-mnist": ()})
    monkeypatch.chdir(tmp_path)
    registry.forget()
    yield
    registry.forget()


def serve_fashion(server: loaders.Server, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The four official file names, gzipped IDX, with their MD5s made the expected ones."""
    arrays = idx_files(seed=11)
    for stem, array in arrays.items():
        blob = server.files[f"{stem}.gz"] = gzip.compress(idx(array))
        monkeypatch.setitem(images.CHECKSUMS["fashion-mnist"], f"{stem}.gz", md5(blob))
    monkeypatch.setenv(MIRROR_ENV, server.url)
    return arrays


def test_absent_fashion_mnist_is_downloaded_and_checked(server, monkeypatch):
    arrays = serve_fashion(server, monkeypatch)
    said: list[str] = []
    assert suite_dataset("quick", said.append, progress=False) is None  # kept: it is here now
    assert len(said) == 1 and said[0].startswith("fashion-mnist not found in data/fashion-mnist")
    assert "downloading it (30 MB, MD5-checked) into data/fashion-mnist" in said[0]
    folder = Path("data") / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(server.files)
    check_idx(images.load_images("fashion-mnist", Path("data")), arrays)
    requests = server.requests
    assert suite_dataset("quick", said.append, progress=False) is None
    assert server.requests == requests and len(said) == 1  # found: nothing fetched or said


def test_a_download_with_the_wrong_md5_is_not_used(server, monkeypatch):
    serve_fashion(server, monkeypatch)
    server.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"something else")
    said: list[str] = []
    assert suite_dataset("quick", said.append, progress=False) == "digits"
    assert len(said) == 2 and "\n" not in said[1]
    assert said[1].startswith("t10k-labels-idx1-ubyte.gz downloaded from ")
    assert said[1].endswith("; the quick suite uses scikit-learn's digits instead")
    assert not (Path("data") / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_the_full_suite_does_not_fall_back(server, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, server.url)  # serves nothing: HTTP 404
    with pytest.raises(UsageError, match=r"^download of .*train-images-idx3-ubyte.gz failed: HTTP"):
        suite_dataset("full", lambda line: None, progress=False)


def test_torchvision_folder_is_used_without_a_download(server, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, server.url)
    loaders.write_idx(Path("data") / "FashionMNIST" / "raw", idx_files(seed=2))
    said: list[str] = []
    assert suite_dataset("quick", said.append, progress=False) is None
    assert said == [] and server.requests == 0


def test_suite_keys_replace_only_fashion_mnist():
    assert suite_keys({"dataset": "fashion-mnist", "epochs": "2"}, "digits") == {
        "dataset": "digits",
        "epochs": "2",
    }
    assert suite_keys({"train_steps": "300"}, "digits") == {"train_steps": "300"}
    assert suite_keys({"dataset": "fashion-mnist"}, None) == {"dataset": "fashion-mnist"}


def test_report_names_the_data_each_section_used():
    from classicnets.report.build import data_used

    def trial(dataset: str | None) -> dict:
        return {"keys": {"dataset": dataset} if dataset else {"cell": "rnn"}}

    assert data_used([trial("fashion-mnist"), trial("fashion-mnist")]) == "Fashion-MNIST"
    assert data_used([trial("digits")]) == "scikit-learn's 8×8 digits"
    assert data_used([trial("moons"), trial("circles")]) == "moons, circles"
    assert data_used([trial("npz:/x/my.npz")]) == "the npz file /x/my.npz"
    assert data_used([trial(None)]) == ""  # palindromes: the section's intro names them


@pytest.mark.slow  # about 20 s on 2 cores: a sweep of two runs and the report
def test_run_falls_back_to_digits_when_the_download_fails_and_the_report_says_so(
    cli, server, monkeypatch
):
    """`classicnets run` end to end on a one-study suite: the server has no files, so the
    suite says why in one line and trains on digits; the report's section names digits."""
    monkeypatch.setenv(MIRROR_ENV, server.url)
    tiny = {"dataset": "fashion-mnist", "train_samples": "200", "test_samples": "100",
            "epochs": "1", "width": "0.0625", "dnn_hidden_units": "16"}  # fmt: skip
    monkeypatch.setitem(SUITES, "quick", (SuiteSweep("mlp-vs-cnn", tiny, 1, "a test's size"),))
    code, out, err = cli("run", "--quiet")
    assert code == 0, err
    lines = out.splitlines()
    fell_back = [line for line in lines if line.endswith("uses scikit-learn's digits instead")]
    assert len(fell_back) == 1 and "HTTP 404" in fell_back[0]
    suite = cli.cwd / "runs" / "suite-quick"
    trials = read_json(suite / "mlp-vs-cnn" / "sweep.json")["trials"]
    assert {t["keys"]["dataset"] for t in trials} == {"digits"}
    page = (suite / "report.html").read_text()
    section = page[page.index('id="mlp-vs-cnn"') :]
    section = section[: section.index("</section>")]
    assert "<b>Data:</b> scikit-learn&#39;s 8×8 digits." in section
    assert "Fashion-MNIST" not in section
