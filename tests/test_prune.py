"""`sweep --search N --prune`: Optuna's MedianPruner, told each evaluation's validation
accuracy through the training loop's one hook, stops the trials that trail; each is recorded
as `pruned` in its run, in sweep.json and in the study, and neither the report's headline nor
its findings name a pruned trial best."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch

from classicnets.records import RunDir, read_sweep
from classicnets.report.summary import headline
from classicnets.runner.sweep.plan import Plan
from classicnets.runner.sweep.study import prune_startup, pruner
from classicnets.runner.sweep.workers import pruning
from classicnets.train.loop import LoopSettings, train
from tests.conftest import read_json

KEYS = ["--dataset", "digits", "--train_samples", "300", "--test_samples", "100"]
KEYS += ["--epochs", "4", "--batch_size", "32", "--quiet"]
SEARCH = [*KEYS, "--search", "8", "--prune"]


def test_the_loop_hook_stops_a_run_with_its_status(tmp_path: Path):
    """The hook hears every evaluation (epoch 0 included) after its checkpoint; the status it
    returns ends the run, and the summary says so (read back through its schema)."""

    class Counter:  # the Learner protocol, as small as it goes: one update an epoch
        splits = ("train", "val", "test")
        learning_rate = 0.1

        def __init__(self):
            self.updates = 0

        def epoch_batches(self, seed, epoch, batch_size):
            return [(None, [0])]

        def step(self, X, y):
            self.updates += 1

        def evaluate(self, split):
            return 1.0 / (1 + self.updates), min(1.0, 0.1 * self.updates)

        def state_dict(self):
            return {"updates": torch.tensor(self.updates)}

        def load_state_dict(self, state):
            self.updates = int(state["updates"])

        def weights(self):  # what best.pt keeps
            return self.state_dict()

    learner = Counter()
    heard: list[tuple[int, float]] = []

    def hook(epoch: int, rows: dict) -> str | None:
        heard.append((epoch, rows["val"]["accuracy"]))
        return "pruned" if epoch == 4 else None

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    settings = LoopSettings(epochs=10, eval_freq=2, batch_size=16, seed=0)
    result = train(learner, settings, run, progress=False, on_evaluation=hook)
    assert heard == [(0, 0.0), (2, 0.2), (4, 0.4)]
    assert result["status"] == "pruned" and result["epochs"] == 4
    assert run.summary()["status"] == "pruned"  # the schema accepts it
    assert run.file("checkpoint.pt").is_file()  # whole up to the evaluation that stopped it


@pytest.mark.parametrize(
    "argv, message",
    [
        (["cnn-optimizers", "--prune"], "--prune stops the trials of a --search that trail the "),
        (
            ["cnn-optimizers", "--search", "2", "--prune", "--val_size", "0"],
            "--val_size 0: --search scores trials on the validation split",
        ),
        (["mlp-toy-compare", "--prune"], "unrecognized arguments: --prune"),
    ],
)
def test_prune_without_a_search_or_a_validation_split_is_refused(cli, argv, message):
    code, out, err = cli("sweep", *argv, "--dataset", "digits", "--out", "s")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (cli.cwd / "s").exists()


def test_the_worker_hook_reports_validation_accuracy_and_prunes_below_the_median():
    """pruning(plan, trial): each evaluation's validation accuracy goes to the study at its
    epoch; below the finished trials' median (after the warm-up epoch 0) it says "pruned"."""
    plan = Plan("s", "s", "sqlite://", "/x", (), experiment="cnn", search=6, prune=True)
    study = optuna.create_study(direction="maximize", pruner=pruner(plan))
    rows = lambda acc: {"val": {"accuracy": acc}, "test": {"accuracy": 0.0}}  # noqa: E731
    for _ in range(prune_startup(plan.search)):  # finished trials at 0.5, 0.6, 0.7
        trial = study.ask()
        hook = pruning(plan, trial)
        assert [hook(e, rows(0.5 + 0.1 * e)) for e in range(3)] == [None, None, None]
        study.tell(trial, 0.7)
    trial = study.ask()
    hook = pruning(plan, trial)
    assert hook(0, rows(0.0)) is None  # epoch 0: the initial weights, never judged
    assert hook(1, rows(0.65)) is None  # above the median at epoch 1 (0.6)
    assert hook(2, rows(0.65)) == "pruned"  # below it at epoch 2 (0.7)
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {
        0: 0.0, 1: 0.65, 2: 0.65
    }  # fmt: skip
    unpruned = replace(plan, prune=False)
    assert pruning(unpruned, study.ask())(2, rows(0.0)) is None  # without --prune: never


def test_a_pruned_trial_is_never_named_best_even_with_the_highest_validation():
    from classicnets.experiments.findings import optimizers

    def trial(name: str, optimizer: str, status: str, val: float) -> dict:
        best = {"val": {"loss": 1.0, "accuracy": val, "step": 9, "epoch": 1},
                "test": {"loss": 1.0, "accuracy": val - 0.01, "step": 9, "epoch": 1}}  # fmt: skip
        keys = {"optimizer": optimizer, "learning_rate": 0.01}
        return {"trial": name, "keys": keys, "status": status, "best": best}

    trials = [
        trial("search-0000", "adam", "completed", 0.70),
        trial("search-0001", "sgd", "completed", 0.60),
        trial("search-0002", "adagrad", "pruned", 0.95),  # cut short at a lucky evaluation
    ]
    assert headline(trials) == "val 0.7000 → test 0.6900 (search-0000)"
    lines = optimizers(Path("unused"), trials)
    assert lines[0].startswith("Highest validation accuracy: adam at lr 0.01,"), lines
    assert not any("adagrad" in line for line in lines[:-1]), lines  # only as pruned
    assert "Pruned (validation accuracy below the finished trials' median at the same " \
        "epoch): adagrad at lr 0.01." in lines  # fmt: skip


def test_prune_startup_leaves_half_the_search_to_run_whole():
    assert [prune_startup(n) for n in (1, 2, 6, 10, 40)] == [1, 1, 3, 5, 5]


@pytest.mark.slow  # 8 small runs: about a minute on 2 busy cores
def test_a_pruned_search_records_pruned_trials_everywhere(cli):
    code, out, err = cli("sweep", "rnn-images-grid", *SEARCH, "--out", "s")
    assert code == 0, err
    assert "pruned by the median rule" in out
    sweep = cli.cwd / "s"
    record = read_sweep(sweep / "sweep.json")  # through its schema
    assert record["prune"] is True and record["complete"] is True
    status = {t["trial"]: t["status"] for t in record["trials"]}
    pruned = sorted(name for name, s in status.items() if s == "pruned")
    assert pruned, status  # seeded TPE on digits: some trials trail the median
    assert set(status.values()) <= {"completed", "early_stopped", "pruned"}
    first = sorted(status)[: prune_startup(8)]  # the median needs finished trials first
    assert not set(pruned) & set(first)
    for name in pruned:
        summary = read_json(sweep / name / "summary.json")
        assert summary["status"] == "pruned" and summary["epochs"] < 4
    study = optuna.load_study(
        study_name=record["study"], storage=f"sqlite:///{(sweep / 'sweep.db').resolve()}"
    )
    states = {t.user_attrs["dir"]: t.state.name for t in study.trials}
    assert {n for n, s in states.items() if s == "PRUNED"} == set(pruned)
    assert {n for n, s in states.items() if s == "COMPLETE"} == set(status) - set(pruned)

    # the headline and the findings rank the finished trials only, even where a pruned
    # trial's best validation evaluation is the highest of all
    trials = record["trials"]
    cut = next(t for t in trials if t["status"] == "pruned")
    cut["best"]["val"]["accuracy"] = 1.0
    assert cut["trial"] not in headline(trials)
    from classicnets.experiments.findings import rnn_grid

    lines = rnn_grid(sweep, trials)
    assert any(line.startswith("Pruned (validation accuracy below") for line in lines), lines
    k = cut["keys"]
    label = f"{k['cell']} with {k['optimizer']}, lr {float(k['learning_rate']):g}"
    assert label not in lines[0], lines  # the verdict names the best finished configuration

    # run again: the pruned trials stay pruned, nothing is trained
    code, out, err = cli("sweep", "rnn-images-grid", *SEARCH, "--out", "s")
    assert code == 0, err
    assert "search-" not in out.replace(f"{sweep}", "")
