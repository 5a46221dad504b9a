"""TensorBoard's record of a run, read back from the event files the run wrote: the
learning rate at every evaluation, and one HParams session per run (its keys and results)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import read_json, read_jsonl
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


def events(run: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def session(accumulator: EventAccumulator) -> tuple[dict, dict]:
    """(hyperparameters, metric tags) of the run's HParams session, from its plugin data."""
    content = accumulator.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    hparams = {}
    for name, value in start.hparams.items():
        kind = value.WhichOneof("kind")
        hparams[name] = getattr(value, kind)
    tags = {m.name.tag for m in experiment.experiment.metric_infos}
    return hparams, tags


def scalars(accumulator: EventAccumulator, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in accumulator.Scalars(tag)}


def test_learning_rate_per_evaluation_follows_the_cosine_schedule(cli):
    argv = ["--dataset", "digits", "--dnn_hidden_units", "32", "--lr_schedule", "cosine"]
    code, _, err = cli(
        "train", "mlp-images", *argv, "--epochs", "4", "--batch_size", "128", "--out", "run",
        "--quiet",
    )  # fmt: skip
    assert code == 0, err
    run = cli.cwd / "run"
    config, summary = read_json(run / "config.json"), read_json(run / "summary.json")
    lr = scalars(events(run), "learning_rate")
    evaluated = sorted({row["step"] for row in read_jsonl(run / "metrics.jsonl")})
    assert sorted(lr) == evaluated and len(evaluated) >= 3
    total, lr0 = summary["steps"], config["learning_rate"]
    for step, value in lr.items():  # CosineAnnealingLR, stepped after every update
        expected = lr0 * (1 + math.cos(math.pi * step / total)) / 2
        assert value == pytest.approx(expected, rel=1e-5, abs=1e-9), step
    assert lr[0] == pytest.approx(lr0) and lr[total] == pytest.approx(0, abs=1e-9)


def test_each_trial_of_a_sweep_is_an_hparams_session_with_its_keys_and_results(cli):
    argv = ["--epochs", "4", "--eval_freq", "2", "--batch_size", "16", "--out", "sweep"]
    code, _, err = cli("sweep", "mlp-toy-compare", *argv, "--quiet")
    assert code == 0, err
    trials = read_json(cli.cwd / "sweep" / "sweep.json")["trials"]
    assert len(trials) >= 2
    compared = set()
    for trial in trials:
        run = cli.cwd / "sweep" / trial["dir"]
        config, summary = read_json(run / "config.json"), read_json(run / "summary.json")
        accumulator = events(run)
        hparams, tags = session(accumulator)
        assert hparams["experiment"] == config["experiment"] == trial["experiment"]
        assert hparams["learning_rate"] == pytest.approx(config["learning_rate"])
        assert hparams["dnn_hidden_units"] == ",".join(map(str, config["dnn_hidden_units"]))
        assert "hparams/test_accuracy_at_best" in tags
        for tag in tags:  # every metric the session names is a scalar of the run
            assert scalars(accumulator, tag), tag
        at_best = scalars(accumulator, "hparams/test_accuracy_at_best")
        assert at_best[summary["steps"]] == pytest.approx(summary["best"]["test"]["accuracy"])
        final = scalars(accumulator, "hparams/final_test_accuracy")[summary["steps"]]
        assert final == pytest.approx(summary["final"]["test"]["accuracy"])
        assert hparams["impl"] == config["impl"] and hparams["dataset"] == config["dataset"]
        compared.add((hparams["dataset"], hparams["impl"]))
    assert len(compared) == len(trials)  # the tab tells every trial apart by its keys
