"""`classicnets train resnet` and `classicnets analyze` on it: a tiny ResNet-8 on digits, the
figures a ResNet has (no deconvnet: skip connections have no inverse), and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import read_json

TRAIN = [
    "train", "resnet", "--dataset", "digits", "--depth", "8", "--width", "0.25",
    "--epochs", "1", "--batch_size", "64", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[int, Path]:
    """One quarter-width ResNet-8, one epoch on digits (~10 s): the exit code and its run."""
    from classicnets.cli import main

    run = tmp_path_factory.mktemp("resnet") / "R"
    return main([*TRAIN, "--out", str(run)]), run


def test_train_resnet_on_digits_completes(trained):
    code, run = trained
    assert code == 0
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["epochs"] == 1
    config = read_json(run / "config.json")
    assert (config["experiment"], config["depth"], config["width"]) == ("resnet", 8, 0.25)


def test_analyze_writes_the_figures_of_a_resnet_and_says_the_deconvnet_is_skipped(cli, trained):
    code, run = trained
    assert code == 0
    code, out, err = cli("analyze", str(run))
    assert code == 0, err
    figures = run / "figures"
    for name in ("filters.png", "activation_stats.png", "occlusion.png"):
        assert (figures / name).stat().st_size > 1000, name
        assert str(figures / name) in out.splitlines()  # each path said on its own line
    assert not (figures / "deconvnet.png").exists()
    assert any("deconvnet: skipped" in line for line in out.splitlines())


def test_analyze_refuses_a_layer_for_a_resnet(cli, trained):
    code, run = trained
    assert code == 0
    code, _, err = cli("analyze", str(run), "--layer", "2")
    assert code == 2
    assert err == (
        "classicnets: error: --layer 2: ResNet has no deconvnet (it is not a plain "
        "conv/BN/ReLU/max-pool stack), so there is no layer to pick; leave --layer out\n"
    )
    assert not (run / "figures" / "deconvnet.png").exists()


def test_a_depth_that_is_not_6n_plus_2_is_refused_in_one_line(cli):
    argv = [a if a != "8" else "21" for a in TRAIN]
    code, out, err = cli(*argv, "--out", "R21")
    assert code == 2
    assert err == (
        "classicnets: error: --depth '21': must be 6n + 2 with n >= 1, e.g. 20, 32, 44, 56 or 110\n"
    )
    assert not (cli.cwd / "R21").exists()
