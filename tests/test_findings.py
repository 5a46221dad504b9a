"""The report's sentences against records built to break them: ties, one seed, seeds that
overlap and seeds that do not, failed, diverged and unfinished trials, curves that go up and
down, runs without a validation split. Every assertion is the whole sentence."""

from __future__ import annotations

import pytest

from classicnets.experiments import findings
from classicnets.stats import compare, summarize


def trial(name, keys, val=None, test=None, status="completed", seed=None, chooser="val"):
    keys = {**keys, **({"seed": seed} if seed is not None else {})}
    best = {}
    if val is not None:
        best[chooser] = {"accuracy": val, "loss": 0.5, "step": 10, "epoch": 2}
        if chooser == "val":
            best["test"] = {"accuracy": test, "loss": 0.5, "step": 10, "epoch": 2}
    return {
        "trial": name,
        "dir": name,
        "keys": keys,
        "status": status,
        "best": best,
        "final": {},
        "steps": 30,
        "epochs": 3,
        "wall_time_s": 12.0,
    }


def opt(optimizer, lr, val, test=None, status="completed", seed=None, chooser="val"):
    name = f"{optimizer}-lr{lr}" + (f"-seed{seed}" if seed is not None else "")
    keys = {"optimizer": optimizer, "learning_rate": lr}
    return trial(name, keys, val, test if test is not None else val, status, seed, chooser)


def test_one_seed_each_names_no_winner():
    lines = findings.optimizers(None, [opt("adam", 1e-3, 0.76), opt("sgd", 1e-2, 0.755)])
    assert lines == [
        "Highest validation accuracy: adam at lr 0.001, 76.0% (n = 1), then sgd at lr 0.01, "
        "75.5% (n = 1) (0.5 points apart); with 1 seed on one side, which is better cannot be "
        "told: run more seeds.",
        "Test accuracy of adam at lr 0.001 at its chosen epoch: 76.0% (n = 1).",
    ]


def test_a_tie_is_a_tie_not_zero_points_ahead():
    lines = findings.optimizers(None, [opt("adam", 1e-3, 0.8), opt("sgd", 1e-2, 0.8)])
    assert lines[0] == (
        "adam at lr 0.001 and sgd at lr 0.01 tie at 80.0% (n = 1) and 80.0% (n = 1) "
        "validation accuracy."
    )


def test_a_difference_that_holds_over_seeds_names_the_winner_with_its_test():
    trials = [opt("adam", 1e-3, v, seed=s) for s, v in zip((1, 2, 3), (0.90, 0.91, 0.92))]
    trials += [opt("sgd", 1e-2, v, seed=s) for s, v in zip((1, 2, 3), (0.70, 0.71, 0.72))]
    p = compare([0.90, 0.91, 0.92], [0.70, 0.71, 0.72]).p
    lines = findings.optimizers(None, trials)
    assert lines[0] == (
        "Best by validation accuracy: adam at lr 0.001, 91.0% ± 1.0 (n = 3), ahead of sgd at "
        f"lr 0.01, 71.0% ± 1.0 (n = 3), by 20.0 points, a difference that holds at 95% "
        f"(Welch's t-test, p = {p:.2g})."
    )
    assert p < 0.05


def test_seeds_that_overlap_cannot_be_told_apart():
    trials = [opt("adam", 1e-3, v, seed=s) for s, v in zip((1, 2, 3), (0.70, 0.80, 0.90))]
    trials += [opt("sgd", 1e-2, v, seed=s) for s, v in zip((1, 2, 3), (0.72, 0.78, 0.84))]
    p = compare([0.70, 0.80, 0.90], [0.72, 0.78, 0.84]).p
    assert findings.optimizers(None, trials)[0] == (
        "adam at lr 0.001, 80.0% ± 10.0 (n = 3), and sgd at lr 0.01, 78.0% ± 6.0 (n = 3), "
        f"cannot be told apart with this many seeds (Welch's t-test, p = {p:.2g}); their "
        "means are 2.0 points apart, their spreads 10.0 and 6.0 points."
    )


def test_a_failed_or_diverged_trial_is_never_best_and_is_named_as_such():
    trials = [
        opt("adam", 1e-2, 0.99, status="failed"),
        opt("sgd", 1e-2, None, status="diverged"),
        opt("adagrad", 1e-3, 0.6),
        opt("sgd", 1e-6, 0.5, status="interrupted"),
    ]
    assert findings.optimizers(None, trials) == [
        "Only adagrad at lr 0.001 finished: 60.0% (n = 1) validation accuracy.",
        "Test accuracy of adagrad at lr 0.001 at its chosen epoch: 60.0% (n = 1).",
        "Diverged (loss became NaN or infinite): sgd at lr 0.01.",
        "Failed (sweep.json holds the error): adam at lr 0.01.",
        "Not finished (interrupted): sgd at lr 1e-06.",
    ]


def test_nothing_finished():
    trials = [opt("adam", 1e-2, None, status="diverged"), opt("sgd", 1e-2, None, status="failed")]
    assert findings.optimizers(None, trials) == [
        "No configuration finished with a validation result to compare.",
        "Diverged (loss became NaN or infinite): adam at lr 0.01.",
        "Failed (sweep.json holds the error): sgd at lr 0.01.",
    ]


def test_the_test_split_never_chooses():
    # records whose "best" the test split chose (written before the rule) rank nothing, and
    # runs without a validation split (val_size 0: no best at all) are said to choose nothing
    old = [opt("adam", 1e-3, 0.8, chooser="test"), opt("sgd", 1e-2, 0.7, chooser="test")]
    assert findings.optimizers(None, old)[0] == (
        "No configuration finished with a validation result to compare."
    )
    unvalidated = [opt("adam", 1e-3, None), opt("sgd", 1e-2, None)]
    for t in unvalidated:
        t["final"] = {"train": {"accuracy": 0.9, "loss": 0.3}, "test": {"accuracy": 0.8}}
    assert findings.optimizers(None, unvalidated) == [
        "No configuration finished with a validation result to compare.",
        "Without a validation split nothing was chosen, so these are not ranked: adam at lr "
        "0.001, sgd at lr 0.01.",
    ]


def test_lowest_is_said_only_with_three_or_more():
    trials = [opt("adam", 1e-3, 0.8), opt("sgd", 1e-2, 0.7), opt("adagrad", 1e-2, 0.1)]
    assert findings.optimizers(None, trials)[2] == (
        "Lowest validation accuracy: adagrad at lr 0.01, 10.0% (n = 1)."
    )


def length(cell, T, test, status="completed", seed=None):
    name = f"{cell}-T{T}" + (f"-seed{seed}" if seed is not None else "")
    return trial(name, {"cell": cell, "input_length": T}, test, test, status, seed)


def test_lengths_all_above_all_below_and_one_crossing():
    trials = [length("lstm", T, 1.0) for T in (5, 10, 15)]
    trials += [length("rnn", T, a) for T, a in ((5, 1.0), (10, 0.95), (15, 0.3))]
    trials += [length("gru", T, a) for T, a in ((5, 0.2), (10, 0.5), (15, 0.1))]
    assert findings.lengths(None, trials) == [
        "lstm: at least 90% test accuracy at every T measured (5, 10, 15).",
        "rnn: at least 90% test accuracy up to T = 10, below from T = 15 (30.0% (n = 1)); at "
        "T = 15: 30.0% (n = 1).",
        "gru: below 90% test accuracy at every T measured; its best is 50.0% (n = 1) at T = 10.",
        "Test accuracy at the step the validation split chose, for each run.",
    ]


def test_a_curve_that_goes_up_and_down_is_not_called_a_threshold():
    trials = [length("rnn", T, a) for T, a in ((5, 1.0), (10, 0.5), (15, 0.95), (20, 0.2))]
    assert findings.lengths(None, trials)[0] == (
        "rnn: not monotone in T: at least 90% test accuracy at T = 5, 15, below at T = 10, 20."
    )


def test_a_missing_length_is_not_a_failure_to_remember():
    trials = [length("rnn", 5, 1.0), length("rnn", 10, None, status="failed")]
    assert findings.lengths(None, trials) == [
        "rnn: at least 90% test accuracy at every T measured (5). No result at T = 10.",
        "Test accuracy at the step the validation split chose, for each run.",
        "Failed (sweep.json holds the error): rnn at T = 10.",
    ]


def test_lengths_over_seeds_say_means():
    trials = [length("lstm", 5, a, seed=s) for s, a in ((1, 1.0), (2, 0.98))]
    assert findings.lengths(None, trials)[0] == (
        "lstm: at least 90% test accuracy (means of the seeds) at every T measured (5)."
    )


def test_side_by_side_compares_by_validation_and_reports_test():
    trials = [
        trial("mlp", {}, 0.85, 0.84),
        trial("cnn", {}, 0.87, 0.86),
    ]
    assert findings.side_by_side(None, trials) == [
        "mlp: test accuracy 84.0% (n = 1) at its chosen epoch (chosen by validation accuracy), "
        "12 s a run.",
        "cnn: test accuracy 86.0% (n = 1) at its chosen epoch (chosen by validation accuracy), "
        "12 s a run.",
        "Highest validation accuracy: cnn, 87.0% (n = 1), then mlp, 85.0% (n = 1) (2.0 points "
        "apart); with 1 seed on one side, which is better cannot be told: run more seeds.",
        "Test accuracy of cnn at its chosen epoch: 86.0% (n = 1).",
    ]


def test_toy_comparison_with_a_missing_or_failed_side():
    trials = [
        trial("moons-numpy", {"dataset": "moons", "impl": "numpy"}, status="failed"),
    ]
    assert findings.mlp_toy(None, trials) == [
        "On moons, no comparison: numpy failed, torch missing."
    ]


IMPLS = ("numpy", "torch")


def test_toy_comparison_over_seeds_with_one_seed_failed(tmp_path):
    def toy(impl, seed, accuracy, status="completed"):
        t = trial(f"moons-{impl}-seed{seed}", {"dataset": "moons", "impl": impl}, seed=seed,
                  status=status)  # fmt: skip
        t["final"] = {"test": {"accuracy": accuracy, "loss": 0.2}}
        return t

    trials = [toy(impl, seed, acc) for seed, acc in ((1, 0.9), (2, 0.8)) for impl in IMPLS]
    trials += [toy("numpy", 3, 0.7), toy("torch", 3, 0.0, "failed")]
    assert findings.mlp_toy(tmp_path, trials) == [
        "On moons, NumPy and PyTorch reach the same final test accuracy in 2 of 2 seeds "
        "(85.0% ± 7.1 (n = 2) and 85.0% ± 7.1 (n = 2)); no logged losses to compare.",
        "On moons, seed 3 is left out: numpy completed, torch failed.",
    ]


def test_identical_seeds_on_each_side_hold_without_a_test():
    result = compare([0.9, 0.9], [0.8, 0.8])
    assert result.holds and result.p == 0.0
    assert not compare([0.9, 0.9], [0.9, 0.9]).holds


@pytest.mark.parametrize("values", [[], [float("nan")], [None]])
def test_summaries_of_nothing_are_none(values):
    assert summarize(values) is None


def test_lengths_too_short_to_hold_out_are_said():
    trials = [length("lstm", T, 1.0) for T in (2, 5)]
    assert findings.lengths(None, trials)[1] == (
        "At T = 2 the palindromes are too few to hold sets out: validation and test share "
        "palindromes with training there."
    )
