"""Input past what the libraries or the machine can take: one line, exit 2, nothing written.

Seeds out of numpy's and scikit-learn's range, data sets too small to split, runs that need
more memory than the machine has (estimated from the config before anything is allocated),
and a run record whose config.json was edited. Memory is pinned at 24 GiB, so the messages
are the same on every machine.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from classicnets import config
from classicnets.errors import UsageError
from classicnets.experiments import (
    EXPERIMENTS,
    cnn,
    memory,
    mlp_images,
    resnet,
    rnn_images,
    rnn_palindrome,
)
from tests.conftest import files_under

GiB = 2**30
MACHINE = 24 * GiB
REAL_MACHINE_BYTES = memory.machine_bytes  # before the fixture pins it


@pytest.fixture(autouse=True)
def machine_of_24_gib(monkeypatch):
    monkeypatch.setattr(memory, "machine_bytes", lambda: MACHINE)


def refused(cli, *argv: str) -> str:
    """Run `train ... --out refused`; assert exit 2, one line, nothing written; the line."""
    code, _, err = cli("train", *argv, "--out", "refused", "--quiet")
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("classicnets: error: "), err
    assert not (cli.cwd / "refused").exists() and files_under(cli.cwd) == []
    return err


def trains(cli, *argv: str) -> dict:
    code, _, err = cli("train", *argv, "--out", "ran", "--quiet")
    assert code == 0, err
    return json.loads((cli.cwd / "ran" / "summary.json").read_text())


# --- 1: seeds -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "4294967296", str(2**64)])
@pytest.mark.parametrize("experiment", ["mlp-toy", "rnn-palindrome", "cnn"])
def test_a_seed_outside_0_to_2_32_is_refused(cli, experiment, seed):
    err = refused(cli, experiment, "--seed", seed)
    assert f"--seed '{seed}': must be in 0 .. 4294967295, e.g. 42" in err


def test_the_largest_seed_runs(cli):
    summary = trains(cli, "mlp-toy", "--seed", "4294967295", "--n_samples", "20", "--epochs", "1")
    assert summary["status"] == "completed"


# --- 2: a toy set too small for its stratified split ---------------------------------------
@pytest.mark.parametrize("n_samples", ["1", "3", "5"])
@pytest.mark.parametrize("dataset", ["moons", "circles", "classification"])
def test_too_few_toy_samples_name_the_smallest_that_splits(cli, dataset, n_samples):
    err = refused(cli, "mlp-toy", "--dataset", dataset, "--n_samples", n_samples)
    assert f"--n_samples {n_samples}: too few for a stratified split with --test_size 0.2" in err
    smallest = re.search(r"use at least --n_samples (\d+)$", err.strip()).group(1)
    assert smallest == "6"
    trains(cli, "mlp-toy", "--dataset", dataset, "--n_samples", smallest, "--epochs", "1")


def test_the_smallest_follows_test_size(cli):
    err = refused(cli, "mlp-toy", "--n_samples", "10", "--test_size", "0.9")
    assert err.strip().endswith("use at least --n_samples 20")  # 20 - ceil(0.9 x 20) = 2


# --- 3: validation and subsets cut below the number of classes ----------------------------
DIGITS = ("mlp-images", "--dataset", "digits", "--epochs", "1")


def test_a_validation_split_that_leaves_one_image_names_val_size(cli):
    err = refused(cli, *DIGITS, "--val_size", "0.999")  # 1,436 of 1,437 held out
    assert (
        "--batch_size 128: larger than the training split (1 image, after --val_size 0.999)" in err
    )
    assert "smaller --val_size" in err


@pytest.mark.parametrize(
    "keys",
    [
        ("--val_size", "0.995", "--batch_size", "4"),  # 7 training images of 10 classes
        ("--train_samples", "1430"),  # leaves 7 of 1,437: fewer than the classes
        ("--train_samples", "5", "--val_size", "0", "--patience", "0", "--batch_size", "5"),
        ("--test_samples", "3", "--batch_size", "8"),
    ],
)
def test_splits_smaller_than_the_classes_are_random_not_stratified(cli, keys):
    assert trains(cli, *DIGITS, *keys)["status"] in ("completed", "diverged")


def test_patience_without_a_validation_split_is_refused(cli):
    # mlp-images stops early by default (--patience 10): with --val_size 0 there is nothing
    # to watch, and the test split may not take its place
    err = refused(cli, *DIGITS, "--val_size", "0")
    assert "--patience 10 with --val_size 0: early stopping watches the validation" in err
    assert len(err.strip().splitlines()) == 1


def test_train_samples_that_validation_empties_names_both(cli):
    err = refused(cli, *DIGITS, "--train_samples", "1", "--batch_size", "1")
    assert "--val_size 0.1: leaves no training samples out of --train_samples 1" in err


@pytest.mark.parametrize(
    ("keys", "names"),
    [
        (("--train_samples", "5", "--val_size", "0.5", "--batch_size", "2"), "--batch_size 2"),
        (("--train_samples", "9", "--batch_size", "1"), "--batch_size 1"),  # every batch one
        (("--train_samples", "2", "--batch_size", "1"), "--batchnorm true"),
    ],
)
def test_a_batch_of_one_image_for_batch_norm_is_refused(cli, keys, names):
    err = refused(cli, *DIGITS, *keys)
    assert names in err and "batch norm trains on 2 or more" in err


def test_without_batch_norm_a_batch_of_one_trains(cli):
    summary = trains(cli, *DIGITS, "--train_samples", "9", "--batch_size", "1", "--batchnorm", "0")
    assert summary["status"] == "completed"


# --- 4: memory, before anything is allocated ----------------------------------------------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ("mlp-images", "--dataset", "digits", "--dnn_hidden_units", "100000,100000"),
            r"--dnn_hidden_units 100000,100000: the run needs about 374 GiB \(parameters, "
            r"gradients and AdamW state, and their checkpoint\), more than this machine's "
            r"24 GiB; use smaller layers",
        ),
        (
            ("cnn", "--dataset", "digits", "--width", "1e9"),
            r"--width 1e\+09: the run needs about .* bytes \(parameters, .*use a smaller width",
        ),
        (
            ("rnn-palindrome", "--input_length", "100000"),
            r"--input_length 100000: the run needs about \d+ GiB \(mostly the loop's buffers for "
            r"an evaluation batch of 1000 x 100,000 steps x 128 units\), more than this "
            r"machine's 24 GiB; use at most --input_length \d+$",
        ),
        (("rnn-palindrome", "--input_length", "1000000000"), r"--input_length 1000000000: .* TiB"),
        (("rnn-palindrome", "--eval_size", "100000000000"), r"--eval_size 100000000000: "),
        (
            ("rnn-palindrome", "--data_size", "100000000000", "--input_length", "40"),
            r"--data_size 100000000000: .*palindromes",
        ),
        (("rnn-images", "--dataset", "digits", "--num_hidden", "1000000"), r"--num_hidden 1000000"),
        (("resnet", "--dataset", "digits", "--width", "1000"), r"--width 1000: .* TiB"),
        (("mlp-toy", "--dnn_hidden_units", "100000,100000"), r"--dnn_hidden_units 100000,100000"),
        (("mlp-toy", "--n_samples", "10000000000"), r"--n_samples 10000000000: .*fewer samples"),
    ],
)
def test_a_run_too_large_for_the_machine_is_refused_before_it_allocates(cli, argv, expected):
    err = refused(cli, *argv)
    assert re.search(expected, err.strip()), err


def test_the_input_length_cap_is_one_that_fits(cli):
    err = refused(cli, "rnn-palindrome", "--input_length", "100000")
    cap = int(re.search(r"at most --input_length (\d+)", err).group(1))
    cfg = config.build(rnn_palindrome.PalindromeConfig, {"input_length": str(cap)})
    assert memory.total(rnn_palindrome.memory_parts(cfg)) <= MACHINE
    more = config.build(rnn_palindrome.PalindromeConfig, {"input_length": str(cap + 1)})
    assert memory.total(rnn_palindrome.memory_parts(more)) > MACHINE


def test_a_sweep_checks_every_trial_against_memory(cli):
    code, _, err = cli("sweep", "rnn-lengths", "--num_hidden", "10000000", "--out", "s", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "--num_hidden 10000000" in err
    assert not (cli.cwd / "s").exists()


SHAPES = {"cifar10": (3, 32, 32), "fashion-mnist": (1, 28, 28)}
IMAGES = {"cifar10": 60_000, "fashion-mnist": 70_000}


@pytest.mark.parametrize("dataset", sorted(SHAPES))
@pytest.mark.parametrize("module", [cnn, mlp_images, resnet, rnn_images])
def test_every_default_fits_a_24_gib_machine_with_room(module, dataset):
    cfg = config.build(module.EXPERIMENT.config, {"dataset": dataset})
    parts = module.memory_parts(cfg, SHAPES[dataset], 10)
    images = 2 * IMAGES[dataset] * math.prod(SHAPES[dataset])  # uint8, loaded and on the device
    assert memory.total(parts) + images < 2 * GiB  # measured peaks: 0.3 .. 1.2 GiB
    memory.check(parts)  # and the check agrees


def test_the_palindrome_defaults_fit():
    cfg = config.build(rnn_palindrome.PalindromeConfig, {})
    assert memory.total(rnn_palindrome.memory_parts(cfg)) < 64 * 2**20
    for T in rnn_palindrome.LENGTHS:  # the rnn-lengths sweep, with the full suite's steps
        cfg = config.build(rnn_palindrome.PalindromeConfig, {"input_length": str(T)})
        memory.check(rnn_palindrome.memory_parts(cfg))


def test_an_unknown_machine_size_checks_nothing(monkeypatch):
    monkeypatch.setattr(memory, "machine_bytes", lambda: None)
    cfg = config.build(rnn_palindrome.PalindromeConfig, {"input_length": "100000"})
    memory.check(rnn_palindrome.memory_parts(cfg))  # no refusal: nothing to compare with


def test_on_a_gpu_the_gpus_memory_is_the_limit(monkeypatch):
    class Properties:
        total_memory = 80 * GiB

    monkeypatch.setattr(memory.torch.cuda, "get_device_properties", lambda device: Properties)
    cfg = config.build(rnn_palindrome.PalindromeConfig, {"input_length": "60000"})  # ~42 GiB
    memory.check(rnn_palindrome.memory_parts(cfg), torch.device("cuda"))  # fits the GPU
    with pytest.raises(UsageError, match=r"more than this machine's 24 GiB"):
        memory.check(rnn_palindrome.memory_parts(cfg), torch.device("cpu"))
    cfg = config.build(rnn_palindrome.PalindromeConfig, {"input_length": "150000"})
    with pytest.raises(UsageError, match=r"more than the GPU's 80 GiB; use at most"):
        memory.check(rnn_palindrome.memory_parts(cfg), torch.device("cuda"))


def test_machine_bytes_reads_the_physical_memory():
    assert REAL_MACHINE_BYTES() is None or REAL_MACHINE_BYTES() > 2**28


# --- 7: npz labels that are not the classes 0..K-1 ---------------------------------------
@pytest.mark.parametrize(
    ("y_train", "y_test", "expected"),
    [
        (
            [1000, 1001],
            [1000, 1001],
            "y_train's labels are 1000..1001 but classes must be numbered 0..K-1 "
            "(missing: 0..999); renumber them",
        ),
        ([0, 2], [0, 2], "y_train's labels are 0, 2 but classes must be numbered 0..K-1 "),
        ([0, 1], [0, 3], "y_test holds labels 3, which no row of y_train has"),
    ],
)
@pytest.mark.parametrize("experiment", ["mlp-toy", "mlp-images"])
def test_npz_labels_must_be_the_classes_0_to_k_minus_1(cli, experiment, y_train, y_test, expected):
    X = np.zeros((20, 2)) if experiment == "mlp-toy" else np.zeros((20, 4, 4))
    path = cli.cwd.parent / f"{cli.cwd.name}-labels.npz"  # beside cwd: refused() wants it empty
    y_train, y_test = np.resize(y_train, 20), np.resize(y_test, 4)
    np.savez(path, X_train=X, y_train=y_train, X_test=X[:4], y_test=y_test)
    dataset = f"npz:{path}"
    err = refused(cli, experiment, "--dataset", dataset, "--batch_size", "4")
    assert f"--dataset {dataset}: {expected}" in err


# --- 5: a config.json edited after the run ------------------------------------------------
PALINDROME = ("--train_steps", "2", "--eval_freq", "1", "--eval_size", "10", "--batch_size", "4")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished rnn-palindrome run (seconds), copied by each test that damages it."""
    from classicnets.cli import main

    out = tmp_path_factory.mktemp("palindrome") / "run"
    argv = ["train", "rnn-palindrome", *PALINDROME, "--num_hidden", "4", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    return out


def finished_run(cli, trained: Path) -> Path:
    shutil.copytree(trained, cli.cwd / "run")
    return cli.cwd / "run"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("train_steps", "x", "train_steps 'x': expected an integer"),
        ("train_steps", -5, "train_steps -5: must be > 0"),
        ("num_hidden", True, "num_hidden true: expected an integer"),
        ("cell", "transformer", "cell 'transformer': expected one of rnn, lstm, gru"),
        ("learning_rate", "0.1", "learning_rate '0.1': expected a finite number"),
        ("seed", -1, "seed -1: must be in 0 .. 4294967295"),
        ("max_norm", [1], "max_norm [1]: expected a finite number"),
    ],
)
def test_analyze_of_a_damaged_config_names_the_file_and_the_key(cli, trained, key, value, problem):
    run = finished_run(cli, trained)
    data = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**data, key: value}))
    before = files_under(run)
    code, _, err = cli("analyze", str(run))
    assert code == 2 and err.count("\n") == 1, err
    assert f"{run / 'config.json'}: {problem}" in err and "the run record is damaged" in err
    assert files_under(run) == before  # no figure drawn


def test_resume_of_a_damaged_config_is_one_line(cli):
    code, _, err = cli("train", "mlp-toy", "--n_samples", "20", "--epochs", "2", "--out", "run")
    assert code == 0, err
    path = cli.cwd / "run" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "epochs": "x"}))
    argv = ("train", "mlp-toy", "--n_samples", "20", "--epochs", "2", "--out", "run", "--resume")
    code, _, err = cli(*argv, "--quiet")
    assert code == 2 and err.count("\n") == 1 and "epochs" in err and "'x'" in err


def test_every_experiment_restores_its_own_config(tmp_path):
    for experiment in EXPERIMENTS.values():  # the defaults, through JSON, come back the same
        cfg = experiment.config()
        data = json.loads(json.dumps(config.to_dict(cfg)))
        assert config.from_dict(experiment.config, data) == cfg
