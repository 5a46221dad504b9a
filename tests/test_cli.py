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
        (["--batch_size", "641"], ["--batch_size 641", "at most 640"]),
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


# --- hostile --out: links to nowhere, names no message could show, another experiment's run
@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("under", [False, True], ids=["itself", "a-parent"])
def test_an_out_that_is_a_link_to_nowhere_is_refused(cli, command, under):
    (cli.cwd / "gone").symlink_to(cli.cwd / "missing")
    out = "gone/run" if under else "gone"
    name = "mlp-toy" if command == "train" else "mlp-toy-compare"
    code, printed, err = cli(command, name, "--epochs", "1", "--quiet", "--out", out)
    where = f"--out '{out}': '{cli.cwd / 'gone'}' is" if under else "--out 'gone' is"
    assert code == 2 and printed == ""
    assert err == (
        f"classicnets: error: {where} a symbolic link to '{cli.cwd / 'missing'}', which does "
        f"not exist; create '{cli.cwd / 'missing'}', or choose another --out\n"
    )
    assert [p.name for p in files_under(cli.cwd)] == ["gone"]


def test_an_out_that_is_a_link_loop_is_refused(cli):
    (cli.cwd / "loop").symlink_to("loop")
    code, _, err = cli("train", "mlp-toy", "--epochs", "1", "--quiet", "--out", "loop")
    assert code == 2 and err.count("\n") == 1
    assert "'loop' is a symbolic link to 'loop', which loops back on itself" in err


def test_an_out_that_is_a_link_to_a_directory_is_followed(cli):
    (cli.cwd / "real").mkdir()
    (cli.cwd / "link").symlink_to(cli.cwd / "real")
    code, _, err = cli("train", "mlp-toy", "--epochs", "1", "--quiet", "--out", "link")
    assert code == 0, err
    assert (cli.cwd / "real" / "summary.json").is_file()


@pytest.mark.parametrize("bad", ["\n", "\t", "\x1b", "\r", "\x7f", "\u202e", "\u2028"])
@pytest.mark.parametrize(
    "argv", [["train", "mlp-toy"], ["sweep", "mlp-toy-compare"], ["report"], ["run"]]
)
def test_an_out_whose_name_holds_a_control_character_is_refused(cli, bad, argv):
    out = f"runs/a{bad}b" + (".html" if argv == ["report"] else "")
    code, printed, err = cli(*argv, "--out", out)
    assert code == 2 and printed == ""
    assert err == (
        f"classicnets: error: --out {ascii(out)}: the name holds the control character "
        f"{ascii(bad)}; choose a name of printable characters\n"
    )
    assert files_under(cli.cwd) == []


def test_resume_into_another_experiments_run_names_the_experiment(cli):
    keys = ["--epochs", "1", "--eval_freq", "1", "--n_samples", "40", "--quiet"]
    assert cli("train", "mlp-toy", *keys, "--out", "toy")[0] == 0
    before = {p: p.read_bytes() for p in files_under(cli.cwd / "toy") if p.is_file()}
    code, _, err = cli("train", "cnn", "--dataset", "digits", "--out", "toy", "--resume")
    assert code == 2
    assert err == (
        "classicnets: error: --resume: 'toy' is a mlp-toy run, not cnn; continue it with "
        "classicnets train mlp-toy --resume, or choose another --out\n"
    )
    assert {p: p.read_bytes() for p in files_under(cli.cwd / "toy") if p.is_file()} == before


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_below_1_are_refused_before_the_plan_is_printed(cli, workers):
    code, printed, err = cli("sweep", "mlp-toy-compare", "--workers", workers, "--out", "s")
    assert code == 2 and printed == ""  # no "sweep mlp-toy-compare: 6 runs ..." first
    assert err == (
        f"classicnets: error: --workers {workers}: expected 1 or more worker processes\n"
    )
    assert files_under(cli.cwd) == []
