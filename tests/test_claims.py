"""The course claims' verdicts against synthetic records: supported, contradicted and cannot
tell for each kind of test, one seed, ties, failed trials and a missing sweep."""

from __future__ import annotations

from classicnets.experiments import claims
from classicnets.experiments.claims import CANNOT_TELL, CONTRADICTED, NO_RUNS, SUPPORTED


def trial(name, keys, test, status="completed", seed=0):
    best = (
        {}
        if test is None
        else {
            "val": {"accuracy": test, "loss": 0.5, "step": 10, "epoch": 2},
            "test": {"accuracy": test, "loss": 0.5, "step": 10, "epoch": 2},
        }
    )
    return {
        "trial": f"{name}-seed{seed}",
        "keys": {**keys, "seed": seed},
        "status": status,
        "best": best,
    }


def moons(impl, values, status="completed"):
    keys = {"dataset": "moons", "impl": impl}
    return [trial(f"moons-{impl}", keys, v, status, s) for s, v in enumerate(values)]


def rnn(T, values, status="completed"):
    keys = {"cell": "rnn", "input_length": T}
    return [trial(f"rnn-T{T}", keys, v, status, s) for s, v in enumerate(values)]


def by_id(rows):
    return {r.claim.id: r for r in rows}


def test_level_supported_contradicted_and_cannot_tell():
    trials = moons("torch", [1.0, 1.0, 1.0]) + moons("numpy", [0.90, 0.91, 0.89])
    rows = by_id(claims.rows({"mlp-toy-compare": trials}))
    assert rows["C02"].verdict == SUPPORTED
    assert rows["C02"].measured == "100.0% ± 0.0 (n = 3) on moons"  # the data it ran on
    assert rows["C03"].verdict == CONTRADICTED
    wide = moons("numpy", [0.6, 1.0, 1.0])  # interval reaches into the band and beyond
    assert by_id(claims.rows({"mlp-toy-compare": wide}))["C03"].verdict == CANNOT_TELL


def test_one_seed_cannot_tell_even_at_the_reported_value():
    rows = by_id(claims.rows({"mlp-toy-compare": moons("torch", [1.0])}))
    assert rows["C02"].verdict == CANNOT_TELL
    assert rows["C02"].measured == "100.0% (n = 1) on moons"
    assert rows["C03"].verdict == NO_RUNS  # the sweep ran, this configuration did not


def test_thresholds():
    trials = rnn(5, [1.0, 0.999, 1.0]) + rnn(10, [0.5, 0.6, 0.55]) + rnn(20, [0.3, 0.32, 0.31])
    trials += rnn(15, [0.7, 1.0, 0.99])
    rows = by_id(claims.rows({"rnn-lengths": trials}))
    assert rows["C42"].verdict == SUPPORTED
    assert rows["C43"].verdict == CONTRADICTED
    assert rows["C44"].verdict == CANNOT_TELL
    assert rows["C45"].verdict == SUPPORTED
    high = rnn(20, [0.9, 0.95, 0.92])
    assert by_id(claims.rows({"rnn-lengths": high}))["C45"].verdict == CONTRADICTED


def test_failed_trials_do_not_count_and_are_said():
    trials = rnn(5, [1.0, 1.0]) + [
        trial("rnn-T5", {"cell": "rnn", "input_length": 5}, None, "failed", 7)
    ]
    row = by_id(claims.rows({"rnn-lengths": trials}))["C42"]
    assert row.verdict == SUPPORTED
    assert row.measured == "100.0% ± 0.0 (n = 2); 1 without a result"
    only_failed = rnn(10, [None, None], status="failed")
    row = by_id(claims.rows({"rnn-lengths": only_failed}))["C43"]
    assert (row.verdict, row.measured) == (NO_RUNS, "no finished runs; 2 without a result")


def side(name, values):
    return [trial(name, {}, v, seed=s) for s, v in enumerate(values)]


def test_greater_both_ways_and_a_tie():
    win = side("cnn", [0.85, 0.86, 0.84]) + side("mlp", [0.80, 0.81, 0.79])
    assert by_id(claims.rows({"mlp-vs-cnn": win}))["C40"].verdict == SUPPORTED
    lose = side("cnn", [0.70, 0.71, 0.69]) + side("mlp", [0.80, 0.81, 0.79])
    row = by_id(claims.rows({"mlp-vs-cnn": lose}))["C40"]
    assert row.verdict == CONTRADICTED
    assert row.measured == "70.0% ± 1.0 (n = 3) vs 80.0% ± 1.0 (n = 3)"
    digits = [dict(t, keys={"dataset": "digits"}) for t in lose]
    row = by_id(claims.rows({"mlp-vs-cnn": digits}))["C40"]
    assert row.measured.endswith(" on scikit-learn's 8×8 digits")  # not the course's data
    tie = side("cnn", [0.8, 0.8]) + side("mlp", [0.8, 0.8])
    assert by_id(claims.rows({"mlp-vs-cnn": tie}))["C40"].verdict == CANNOT_TELL
    overlap = side("cnn", [0.7, 0.9, 0.8]) + side("mlp", [0.75, 0.8, 0.78])
    assert by_id(claims.rows({"mlp-vs-cnn": overlap}))["C40"].verdict == CANNOT_TELL
    assert by_id(claims.rows({"mlp-vs-cnn": side("cnn", [0.8])}))["C40"].verdict == NO_RUNS


def test_lr_keys_match_as_numbers():
    keys = {"optimizer": "adam", "learning_rate": "0.01"}
    trials = [trial("adam-lr0.01", keys, v, seed=s) for s, v in enumerate((0.1, 0.11, 0.1))]
    assert by_id(claims.rows({"cnn-optimizers": trials}))["C31"].verdict == SUPPORTED


def test_a_missing_sweep_gives_no_row():
    assert claims.rows({}) == []
    assert claims.rows({"rnn-lengths": []}) == []
    ids = {r.claim.id for r in claims.rows({"rnn-lengths": rnn(5, [1.0])})}
    assert ids == {"C42", "C43", "C44", "C45"}


def test_each_claim_says_how_it_is_checked():
    said = {c.id: c.checked_as() for c in claims.CLAIMS}
    assert said["C02"] == "within 1.0 points of 100.0%"
    assert said["C31"] == "at most 25.0%"
    assert said["C40"] == "higher than mlp"
    assert said["C38"] == "higher than optimizer adam, learning_rate 0.01"


def test_the_interval_is_the_textbook_t_interval():
    from pytest import approx

    from classicnets.stats import interval

    lo, hi = interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2) = 4.3027
    assert (lo, hi) == (
        approx(2 - 4.3027 / 3**0.5, abs=1e-4),
        approx(2 + 4.3027 / 3**0.5, abs=1e-4),
    )
    assert interval([0.5, 0.5]) == (0.5, 0.5)
    assert interval([0.5]) is None and interval([]) is None


def test_without_a_validation_split_the_final_test_accuracy_is_measured_not_the_best():
    """The best test evaluation would be chosen by the test split: a toy run (no validation
    split) is measured by its final test accuracy."""
    from classicnets.experiments.claims import _test_accuracy

    run = {"status": "completed", "best": {"test": {"accuracy": 1.0, "step": 5, "epoch": 5}},
           "final": {"test": {"accuracy": 0.97, "loss": 0.1}}}  # fmt: skip
    assert _test_accuracy(run) == 0.97
    validated = {**run, "best": {"val": {"accuracy": 0.99}, "test": {"accuracy": 0.98}}}
    assert _test_accuracy(validated) == 0.98
