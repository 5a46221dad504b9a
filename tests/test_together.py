"""Seeds trained together (train/together.py) give each seed what its separate run gives.

The separate runs are the real ones: the experiment's build and train/loop.py's train, which
write metrics.jsonl. Compared in float64, every logged loss and accuracy and every final
weight within 1e-10 (the RNN's losses are summed in float32 as its learner sums them, so the
weights are the finer test there). The comparison can fail: stacking the learners in another
order than their seeds is caught.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from classicnets.errors import UsageError
from classicnets.experiments import mlp_toy, rnn_palindrome
from classicnets.records import RunDir
from classicnets.train.loop import LoopSettings, train
from classicnets.train.together import StackedNumpyLearner, train_together
from classicnets.train.together_rnn import StackedRNNLearner

SEEDS = (3, 1, 2)  # not sorted: index s must stay seed SEEDS[s] throughout
CPU = torch.device("cpu")
TOLERANCE = 1e-10


def built(experiment, cfg, seeds=SEEDS) -> list:
    return [experiment.build(dataclasses.replace(cfg, seed=seed), CPU) for seed in seeds]


def separately(builts: list, tmp_path, settings: LoopSettings | None = None) -> list:
    """Each seed's run by train/loop.py: (metrics rows, status, final weights)."""
    runs = []
    for b in builts:
        run = RunDir(tmp_path / f"seed{b.settings.seed}")
        run.path.mkdir()
        given = settings or b.settings
        summary = train(
            b.learner, dataclasses.replace(given, seed=b.settings.seed), run, progress=False
        )
        runs.append((run.metrics(), summary["status"], b.learner.weights()))
    return runs


def difference(together, separate) -> float:
    """The largest |stacked - separate| over every row's loss and accuracy and every final
    weight; the rows must be the same evaluations, and the runs end alike."""
    largest = 0.0
    for seed_run, (rows, status, weights) in zip(together, separate):
        assert seed_run.status == status
        assert [(r["step"], r["epoch"], r["split"]) for r in seed_run.rows] == [
            (r["step"], r["epoch"], r["split"]) for r in rows
        ]
        for a, b in zip(seed_run.rows, rows):
            largest = max(largest, abs(a["loss"] - b["loss"]), abs(a["accuracy"] - b["accuracy"]))
        mine = seed_run.weights
        assert set(mine) == set(weights)
        for name, value in weights.items():
            gap = torch.as_tensor(mine[name]).double() - value.double()
            largest = max(largest, float(gap.abs().max()))
    return largest


TOY = mlp_toy.MLPToyConfig(n_samples=200, epochs=4, eval_freq=2, dnn_hidden_units=(8, 8))


@pytest.mark.parametrize("batch_size", [1, 7, 0])
def test_stacked_numpy_mlps_log_what_separate_runs_log(tmp_path, batch_size):
    cfg = dataclasses.replace(TOY, batch_size=batch_size)
    learners = [b.learner for b in built(mlp_toy.EXPERIMENT, cfg)]
    stacked = StackedNumpyLearner(learners, SEEDS)
    together = train_together(stacked, built(mlp_toy.EXPERIMENT, cfg)[0].settings)
    separate = separately(built(mlp_toy.EXPERIMENT, cfg), tmp_path)
    assert len(together[0].rows) == 3 * 3  # epochs 0, 2, 4 x train, val, test
    assert difference(together, separate) <= TOLERANCE


def test_a_seed_stops_where_its_own_run_stops(tmp_path):
    """Patience per seed: a stopped seed's rows end while the others train on."""
    cfg = dataclasses.replace(TOY, epochs=12, eval_freq=1)
    settings = dataclasses.replace(built(mlp_toy.EXPERIMENT, cfg)[0].settings, patience=2)
    stacked = StackedNumpyLearner([b.learner for b in built(mlp_toy.EXPERIMENT, cfg)], SEEDS)
    together = train_together(stacked, settings)
    separate = separately(built(mlp_toy.EXPERIMENT, cfg), tmp_path, settings)
    assert {run.status for run in together} >= {"early_stopped"}
    assert len({len(run.rows) for run in together}) > 1  # they stopped at different steps
    assert difference(together, separate) <= TOLERANCE


def test_learners_stacked_in_another_order_than_their_seeds_are_caught(tmp_path):
    learners = [b.learner for b in built(mlp_toy.EXPERIMENT, TOY)]
    stacked = StackedNumpyLearner(learners[::-1], SEEDS)  # seed 3's slot holds seed 2's run
    together = train_together(stacked, built(mlp_toy.EXPERIMENT, TOY)[0].settings)
    separate = separately(built(mlp_toy.EXPERIMENT, TOY), tmp_path)
    assert difference(together, separate) > 1e-3


@pytest.fixture
def float64():
    """The RNN's parameters are made in torch's default dtype: float64 for these runs."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


PALINDROME = rnn_palindrome.PalindromeConfig(
    num_hidden=12, input_length=6, batch_size=16, train_steps=24, eval_freq=8, eval_size=64
)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_vmapped_rnns_log_what_separate_runs_log(tmp_path, float64, cell):
    cfg = dataclasses.replace(PALINDROME, cell=cell)
    learners = [b.learner for b in built(rnn_palindrome.EXPERIMENT, cfg)]
    stacked = StackedRNNLearner(learners, SEEDS)
    assert stacked.params["model.rnn.W_hh"].dtype == torch.float64
    together = train_together(stacked, built(rnn_palindrome.EXPERIMENT, cfg)[0].settings)
    separate = separately(built(rnn_palindrome.EXPERIMENT, cfg), tmp_path)
    assert len(together[0].rows) == 4 * 3  # steps 0, 8, 16, 24 x train, val, test
    assert difference(together, separate) <= TOLERANCE


def test_vmapped_rnns_with_momentum_and_weight_decay(tmp_path, float64):
    cfg = dataclasses.replace(PALINDROME, cell="lstm", momentum=0.5, weight_decay=1e-3)
    stacked = StackedRNNLearner([b.learner for b in built(rnn_palindrome.EXPERIMENT, cfg)], SEEDS)
    together = train_together(stacked, built(rnn_palindrome.EXPERIMENT, cfg)[0].settings)
    separate = separately(built(rnn_palindrome.EXPERIMENT, cfg), tmp_path)
    assert difference(together, separate) <= TOLERANCE


@pytest.mark.parametrize(
    "change, says",
    [
        ({"optimizer": "adam"}, "rmsprop"),
        ({"impl": "fused"}, "explicit"),
        ({"lr_schedule": "cosine"}, "schedule"),
    ],
)
def test_what_the_stacked_step_does_not_do_is_refused(change, says):
    cfg = dataclasses.replace(PALINDROME, **change)
    learners = [b.learner for b in built(rnn_palindrome.EXPERIMENT, cfg, (1, 2))]
    with pytest.raises(UsageError, match=says):
        StackedRNNLearner(learners, (1, 2))


def test_seeds_of_different_configurations_are_refused():
    a, b = (
        built(rnn_palindrome.EXPERIMENT, PALINDROME, (1,))[0],
        built(rnn_palindrome.EXPERIMENT, dataclasses.replace(PALINDROME, learning_rate=0.1), (2,))[
            0
        ],
    )
    with pytest.raises(UsageError, match="every key but the seed"):
        StackedRNNLearner([a.learner, b.learner], (1, 2))
