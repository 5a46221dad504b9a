"""The command-line contract: list, --help, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.conftest import files_under

KEYS = [
    "impl",
    "dataset",
    "n_samples",
    "noise",
    "factor",
    "test_size",
    "dnn_hidden_units",
    "learning_rate",
    "optimizer",
    "batch_size",
    "epochs",
    "eval_freq",
    "seed",
    "dtype",
]


def test_list_names_experiments_sweeps_and_suites(cli):
    code, out, _ = cli("list")
    assert code == 0
    assert "mlp-toy " in out and "mlp-toy-compare" in out and "quick" in out


def test_help_lists_every_key_with_default_and_meaning(cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli("train", "mlp-toy", "--help")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for key in KEYS:
        assert f"--{key}" in out
    assert "(default: 20)" in out and "(default: 0.01)" in out and "(default: 200)" in out
    assert "(default: sgd)" in out and "(default: 1)" in out and "(default: 10)" in out


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--dnn_hidden_units", "20,,x"], ["--dnn_hidden_units '20,,x'", "e.g. 1024,512"]),
        (["--dnn_hidden_units", "20,0"], ["--dnn_hidden_units '20,0'", "positive"]),
        (["--learning_rate", "-0.1"], ["--learning_rate '-0.1'", "> 0"]),
        (["--learning_rate", "0"], ["--learning_rate '0'", "> 0"]),
        (["--learning_rate", "nan"], ["--learning_rate 'nan'", "finite"]),
        (["--dataset", "spirals"], ["--dataset 'spirals'", "moons, circles, classification"]),
        (["--dataset", "npz:missing.npz"], ["npz:missing.npz", "no such file"]),
        (["--impl", "jax"], ["--impl 'jax'", "numpy, torch"]),
        (["--dtype", "float16"], ["--dtype 'float16'", "float64, float32"]),
        (["--epochs", "0"], ["--epochs '0'", "> 0"]),
        (["--epochs", "ten"], ["--epochs 'ten'", "integer"]),
        (["--test_size", "1.5"], ["--test_size '1.5'", "between 0 and 1"]),
        (["--batch_size", "801"], ["--batch_size 801", "at most 800"]),
        (["--foo", "1"], ["--foo", "--help"]),
        (["--resume"], ["--resume needs --out"]),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, argv, names):
    code, out, err = cli("train", "mlp-toy", *argv, "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("classicnets: error: ")
    for name in names:
        assert name in err
    assert files_under(cli.cwd) == []


def test_out_that_is_a_file_is_refused(cli):
    (cli.cwd / "taken").write_text("not a directory")
    code, _, err = cli("train", "mlp-toy", "--out", "taken", "--epochs", "1", "--quiet")
    assert code == 2 and "is a file" in err and err.count("\n") == 1
    assert [p.name for p in files_under(cli.cwd)] == ["taken"]


def test_out_that_holds_a_run_is_refused_without_resume(cli):
    (cli.cwd / "run").mkdir()
    (cli.cwd / "run" / "config.json").write_text("{}")
    code, _, err = cli("train", "mlp-toy", "--out", "run", "--epochs", "1", "--quiet")
    assert code == 2 and "--resume" in err
    code, _, err = cli("train", "mlp-toy", "--out", "run", "--resume", "--quiet")
    assert code == 2 and "no checkpoint.pt" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_bad_input(cli):
    code, _, err = cli("train", "mlp-toy", "--impl", "torch", "--device", "cuda", "--quiet")
    assert code == 2 and "--device cpu" in err
    assert files_under(cli.cwd) == []


def test_unknown_experiment_and_sweep(cli):
    code, _, err = cli("train", "nope")
    assert code == 2 and "'nope'" in err and err.count("\n") == 1
    code, _, err = cli("sweep", "nope")
    assert code == 2 and "'nope'" in err


def test_sweep_refuses_a_key_its_trials_set(cli):
    code, _, err = cli("sweep", "mlp-toy-compare", "--dataset", "moons")
    assert code == 2 and "--dataset is set by each trial" in err
    assert files_under(cli.cwd) == []


def test_console_script_and_module_entry_points(tmp_path):
    for argv in (["classicnets"], [sys.executable, "-m", "classicnets"]):
        done = subprocess.run(
            [*argv, "train", "mlp-toy", "--learning_rate", "-1"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "classicnets: error: --learning_rate '-1': must be > 0, e.g. 0.01"
        ]
    assert list(tmp_path.iterdir()) == []


def test_every_experiment_and_sweep_prints_its_help(cli):
    """Help texts pass through argparse's %-formatting: a literal % must not break them."""
    from classicnets.experiments import EXPERIMENTS, SWEEPS

    for command, names in (("train", EXPERIMENTS), ("sweep", SWEEPS)):
        for name in names:
            with pytest.raises(SystemExit) as done:  # argparse's help exits 0
                cli(command, name, "--help")
            out = cli.capsys.readouterr().out
            assert done.value.code == 0 and "--seed" in out, (command, name)
