"""`classicnets export` and `classicnets predict`: the chosen model out of a run, as ONNX (run
in onnxruntime against torch on the run's test set) or safetensors (the state dict, exactly),
and files classified by it as training prepared its data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from classicnets.records import RunDir

RUNS = {  # name -> experiment and the keys that make it tiny (digits: 8x8, 10 classes)
    "cnn": ["cnn", "--width", "0.0625", "--train_samples", "300", "--batch_size", "32"],
    "mlp-images": ["mlp-images", "--dnn_hidden_units", "32", "--batch_size", "64"],
    "rnn-images": ["rnn-images", "--cell", "gru", "--num_hidden", "16", "--batch_size", "64"],
    "rnn-explicit": ["rnn-images", "--cell", "lstm", "--impl", "explicit", "--num_hidden", "8"],
}
PALINDROME = ["rnn-palindrome", "--cell", "lstm", "--input_length", "5", "--num_hidden", "16"]
PALINDROME += ["--train_steps", "40", "--eval_freq", "20"]
TOY = ["mlp-toy", "--n_samples", "200", "--epochs", "3", "--batch_size", "8"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    from classicnets.cli import main

    root = tmp_path_factory.mktemp("runs")
    made = {}
    for name, (experiment, *keys) in RUNS.items():
        made[name] = root / name
        argv = ["train", experiment, "--dataset", "digits", *keys, "--epochs", "1"]
        assert main([*argv, "--quiet", "--device", "cpu", "--out", str(made[name])]) == 0
    made["palindrome"] = root / "palindrome"
    argv = ["train", *PALINDROME, "--quiet", "--device", "cpu", "--out", str(made["palindrome"])]
    assert main(argv) == 0
    for impl, split in (("numpy", "0.2"), ("torch", "0")):  # torch's: nothing is chosen
        made[f"toy-{impl}"] = root / f"toy-{impl}"
        argv = ["train", *TOY, "--impl", impl, "--val_size", split, "--quiet"]
        assert main([*argv, "--out", str(made[f"toy-{impl}"])]) == 0
    return made


def torch_logits(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """The test split as stored (float32) and the restored chosen model's logits on it, as
    evaluation computes them."""
    from classicnets.runner.run import restore

    _, _, built = restore(run)
    X = built.data.data["test"][0]
    with torch.no_grad():
        logits = built.learner.logits(built.data.inputs(X))
    return X.float().numpy(), logits.numpy()


@pytest.mark.parametrize("name", list(RUNS))
def test_onnx_in_onnxruntime_gives_torchs_logits_on_the_test_set(cli, runs, name):
    import onnx
    import onnxruntime

    out = cli.cwd / f"{name}.onnx"
    code, text, err = cli("export", str(runs[name]), "--format", "onnx", "--out", str(out))
    assert code == 0, err
    assert text.splitlines()[-1] == f"export: {out}"
    X, expected = torch_logits(runs[name])
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"input": X})  # the whole split: the batch size is free
    assert got.shape == expected.shape == (360, 10)
    assert np.abs(got - expected).max() < 1e-4
    assert (got.argmax(1) == expected.argmax(1)).all()
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    best = RunDir(runs[name]).load_best()
    assert (meta["weights"], meta["step"]) == ("best", str(best["step"]))
    assert json.loads(meta["classes"]) == [str(k) for k in range(10)]


@pytest.mark.parametrize("name", ["cnn", "rnn-images", "toy-numpy", "toy-torch"])
def test_safetensors_round_trips_the_state_dict_exactly(cli, runs, name):
    from safetensors import safe_open
    from safetensors.torch import load_file

    from classicnets.runner.run import restore

    code, text, err = cli("export", str(runs[name]), "--format", "safetensors")
    assert code == 0, err
    path = runs[name] / "model.safetensors"
    _, _, built = restore(runs[name])
    expected = built.learner.weights()
    got = load_file(path)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key
    with safe_open(path, "pt") as f:
        chosen = f.metadata()["weights"]
    if name == "toy-torch":  # no validation split: nothing chosen, the last weights
        assert chosen == "last" and not (runs[name] / "best.pt").exists()
        assert "no best.pt (no validation split: nothing is chosen)" in text.splitlines()[0]
    else:
        assert chosen == "best"
        assert_equal_state(got, RunDir(runs[name]).load_best()["weights"])


def assert_equal_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_onnx_of_the_numpy_mlp_is_refused_in_one_line(cli, runs):
    out = cli.cwd / "toy.onnx"
    code, _, err = cli("export", str(runs["toy-numpy"]), "--format", "onnx", "--out", str(out))
    assert code == 2 and err.count("\n") == 1
    assert "not a torch module" in err and "--format safetensors" in err
    assert not out.exists() and not list(cli.cwd.glob(".*.tmp"))


def test_onnx_of_the_toy_torch_mlp(cli, runs):
    import onnxruntime

    from classicnets.runner.run import restore

    out = cli.cwd / "toy.onnx"
    assert cli("export", str(runs["toy-torch"]), "--format", "onnx", "--out", str(out))[0] == 0
    _, _, built = restore(runs["toy-torch"])
    X = built.data.X_test  # standardised points, as the model reads them
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"input": X.astype(np.float64)})
    expected = np.log(built.learner.predict_proba(X))  # log-softmax: logits up to a shift
    shifted = got - got.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    assert np.abs(log_p - expected).max() < 1e-8


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "onnx", "--out", "{run}"], "is a directory"),
        (["--format", "pickle"], "invalid choice: 'pickle'"),
    ],
)
def test_export_refuses_bad_input_in_one_line(cli, runs, args, message):
    args = [a.format(run=runs["mlp-images"]) for a in args]
    code, _, err = cli("export", str(runs["mlp-images"]), *args)
    assert code == 2 and err.count("\n") == 1 and message in err, err


# --- predict ---
def write_pngs(folder: Path, X: np.ndarray) -> list[Path]:
    from PIL import Image

    paths = []
    for i, x in enumerate(X):  # (1, 8, 8) uint8, bright on dark as stored
        paths.append(folder / f"digit{i}.png")
        Image.fromarray(x[0]).save(paths[-1])
    return paths


@pytest.mark.parametrize("name", ["cnn", "mlp-images"])
def test_predict_of_pngs_is_the_models_prediction_on_the_same_arrays(cli, runs, name):
    from classicnets.runner.run import restore

    _, _, built = restore(runs[name])
    X = built.data.data["test"][0][:12].numpy()
    with torch.no_grad():
        P = torch.softmax(built.learner.logits(built.data.inputs(torch.from_numpy(X))), 1)
    pngs = write_pngs(cli.cwd, X)
    np.savez(cli.cwd / "some.npz", X=X[:, 0])  # (N, H, W): one channel, without its axis
    code, out, err = cli("predict", str(runs[name]), *map(str, pngs), "some.npz", "--json")
    assert code == 0, err
    rows = json.loads(out)["predictions"]
    assert [r["file"] for r in rows] == [*map(str, pngs), *(f"some.npz[{i}]" for i in range(12))]
    expected = P.argmax(1).tolist() * 2
    assert [r["label"] for r in rows] == expected
    assert [r["class"] for r in rows] == [str(k) for k in expected]  # digits' names: 0..9
    probabilities = P.max(1).values.tolist() * 2
    assert np.allclose([r["probability"] for r in rows], probabilities, atol=1e-6)
    code, out, err = cli("predict", str(runs[name]), str(pngs[0]))
    assert code == 0, err
    first, line = out.splitlines()
    assert first.startswith("weights: the chosen model, best validation at ")
    assert line == f"{pngs[0]}: {expected[0]} (p = {probabilities[0]:.3f})"


def test_predict_resizes_and_greys_a_jpeg(cli, runs):
    from PIL import Image

    Image.new("RGB", (32, 24), (200, 10, 10)).save(cli.cwd / "red.jpg")
    code, out, err = cli("predict", str(runs["cnn"]), "red.jpg", "--json")
    assert code == 0, err
    (row,) = json.loads(out)["predictions"]
    assert row["file"] == "red.jpg" and 0 <= row["label"] < 10


def test_predict_of_the_toy_mlp_standardises_as_training(cli, runs):
    from classicnets.runner.run import restore

    _, _, built = restore(runs["toy-numpy"])
    raw = built.data.X_test[:5] * built.data.std + built.data.mean  # points as given
    np.savez(cli.cwd / "points.npz", X_test=raw)
    code, out, err = cli("predict", str(runs["toy-numpy"]), "points.npz", "--json")
    assert code == 0, err
    labels = [r["label"] for r in json.loads(out)["predictions"]]
    assert labels == built.learner.predict_proba(built.data.X_test[:5]).argmax(1).tolist()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: None, "missing.png: no such file"),
        (lambda d: (d / "notes.png").write_text("hello"), "not a readable PNG or JPEG image"),
        (lambda d: np.savez(d / "wrong.npz", X=np.zeros((2, 1, 9, 9))), "has shape (2, 1, 9, 9)"),
        (lambda d: np.savez(d / "nox.npz", Y=np.zeros(3)), "no array X or X_test (it holds Y)"),
        (lambda d: (d / "cut.npz").write_bytes(b"PK\x03\x04 cut"), "not a readable .npz"),
    ],
)
def test_predict_refuses_a_bad_file_in_one_line(cli, runs, make, message):
    make(cli.cwd)
    name = message.split(":")[0] if "no such" in message else None
    files = sorted(p.name for p in cli.cwd.iterdir()) or [name]
    code, out, err = cli("predict", str(runs["mlp-images"]), *files)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert out == ""  # every file is checked before anything is said


def test_predict_refuses_images_for_a_run_that_reads_points(cli, runs):
    write_pngs(cli.cwd, np.zeros((1, 1, 8, 8), np.uint8))
    code, _, err = cli("predict", str(runs["toy-torch"]), "digit0.png")
    assert code == 2 and "reads vectors, not images; give an .npz" in err


def test_a_palindrome_runs_onnx_reads_its_encoded_digits_and_predict_refuses_it(cli, runs):
    import onnxruntime

    from classicnets.runner.run import restore

    out = cli.cwd / "palindrome.onnx"
    assert cli("export", str(runs["palindrome"]), "--format", "onnx", "--out", str(out))[0] == 0
    _, _, built = restore(runs["palindrome"])
    X, _ = built.data.sample("test", 100)  # (N, T, input_dim): one-hot digits
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"input": X.numpy()})
    expected = built.learner.logits(X).numpy()
    assert np.abs(got - expected).max() < 1e-4 and (got.argmax(1) == expected.argmax(1)).all()
    np.savez(cli.cwd / "x.npz", X=X.numpy())
    code, _, err = cli("predict", str(runs["palindrome"]), "x.npz")
    assert code == 2 and err.count("\n") == 1 and "rnn-palindrome run reads digit sequences" in err
