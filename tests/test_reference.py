"""The sentences that set a suite's conclusion against its study's reference run
(experiments/reproduce.py), on records built for each case: agreement, another winner, top
configurations that cannot be told apart here or in the reference, ties, lengths that fall
at the same T, at another, or nowhere, the toy parity, no reference, and failed, diverged
and missing runs. Every assertion is the whole sentence."""

from __future__ import annotations

import json

import pytest

from classicnets.experiments import SUITES, SWEEPS, findings, reference, reproduce
from classicnets.experiments.reference import (
    FULL,
    TWO_CORES,
    Falls,
    Parity,
    Ranking,
    Reference,
)
from classicnets.stats import compare

DATE = "2026-12-08"
CIFAR = {"dataset": "cifar10", "download": "true"}
SMALL = {"train_samples": "20000", "epochs": "10"}


def trial(name, keys, val=None, test=None, status="completed", seed=None):
    keys = {**keys, **({"seed": seed} if seed is not None else {})}
    best = {}
    if val is not None:
        best["val"] = {"accuracy": val, "loss": 0.5, "step": 10, "epoch": 2}
        best["test"] = {"accuracy": test if test is not None else val, "loss": 0.5, "step": 10,
                        "epoch": 2}  # fmt: skip
    return {"trial": name, "dir": name, "experiment": "x", "keys": keys, "status": status,
            "best": best, "final": {}}  # fmt: skip


def opt(optimizer, lr, values, status="completed"):
    """A run of `optimizer` at `lr` per value, seeds 1, 2, ...; None: no result."""
    return [
        trial(
            f"{optimizer}-lr{lr}-seed{s}",
            {"optimizer": optimizer, "learning_rate": lr},
            v,
            status=status if v is None else "completed",
            seed=s,
        )
        for s, v in enumerate(values, 1)
    ]


def ref(conclusion, sweep="cnn-optimizers", sized=TWO_CORES, keys=SMALL):
    return Reference(sweep, keys, 3, sized, DATE, conclusion)


def said(sweep, trials, *references):
    return reproduce.sentences(sweep, SWEEPS[sweep].report.conclude, trials, references)


def p_of(a, b):
    return compare(a, b).p


ADAM, SGD = "adam at lr 0.001", "sgd at lr 0.01"
AHEAD = opt("adam", 1e-3, (0.90, 0.91, 0.92)) + opt("sgd", 1e-2, (0.70, 0.71, 0.72))
P_AHEAD = p_of([0.90, 0.91, 0.92], [0.70, 0.71, 0.72])
OVERLAP = opt("adam", 1e-3, (0.70, 0.80, 0.90)) + opt("sgd", 1e-2, (0.72, 0.78, 0.84))
P_OVERLAP = p_of([0.70, 0.80, 0.90], [0.72, 0.78, 0.84])
AT_FULL = (
    "the reference run at the course's full settings, --dataset cifar10 --download true "
    "(command: classicnets sweep cnn-optimizers --dataset cifar10 --download true --seeds 3; "
    f"3 seeds, {DATE})"
)
AT_SMALL = (
    "the reference run at the largest that fits 2 cores, --train_samples 20000 --epochs 10 "
    "(command: classicnets sweep cnn-optimizers --train_samples 20000 --epochs 10 --seeds 3; "
    f"3 seeds, {DATE})"
)
FULL_CAN = "Of the suites, `classicnets run --suite full` can tell: it runs these settings."
COMMAND_CAN = "The course's full settings do not fit a CPU: the reference command can tell."
ADAM_WINS = Ranking(ADAM, SGD, 0.004, True)


def test_the_same_winner_agrees():
    assert said("cnn-optimizers", AHEAD, ref(ADAM_WINS, sized=FULL, keys=CIFAR)) == [
        "At these settings the conclusion matches the reference run (the course's full "
        f"settings, --dataset cifar10 --download true, 3 seeds, {DATE}): {ADAM} ahead by "
        f"validation accuracy (Welch's t-test, p = {P_AHEAD:.2g} here; Welch's t-test, "
        "p = 0.004 there)."
    ]


def test_another_winner_here_cannot_tell_and_names_the_full_suite():
    sgd_wins = Ranking(SGD, ADAM, 0.004, True)
    assert said("cnn-optimizers", AHEAD, ref(sgd_wins, sized=FULL, keys=CIFAR)) == [
        f"This suite cannot tell which configuration wins: {ADAM} is ahead of {SGD} by "
        f"validation accuracy here (Welch's t-test, p = {P_AHEAD:.2g}); {AT_FULL} can: {SGD} "
        f"is ahead of {ADAM} by validation accuracy there (Welch's t-test, p = 0.004).",
        FULL_CAN,
    ]


def test_top_two_that_cannot_be_told_apart_here_name_the_reference_command():
    assert said("cnn-optimizers", OVERLAP, ref(ADAM_WINS)) == [
        f"This suite cannot tell which configuration wins: {ADAM} and {SGD} cannot be told "
        f"apart by validation accuracy here (Welch's t-test, p = {P_OVERLAP:.2g}); "
        f"{AT_SMALL} can: {ADAM} is ahead of {SGD} by validation accuracy there (Welch's "
        "t-test, p = 0.004).",
        COMMAND_CAN,
    ]


def test_a_tie_or_one_seed_here_cannot_tell():
    tie = opt("adam", 1e-3, (0.8, 0.8)) + opt("sgd", 1e-2, (0.8, 0.8))
    assert said("cnn-optimizers", tie, ref(ADAM_WINS))[0].startswith(
        f"This suite cannot tell which configuration wins: {ADAM} and {SGD} cannot be told "
        f"apart by validation accuracy here (equal means); {AT_SMALL} can: "
    )
    one = opt("adam", 1e-3, (0.9,)) + opt("sgd", 1e-2, (0.7,))
    assert said("cnn-optimizers", one, ref(ADAM_WINS))[0].startswith(
        f"This suite cannot tell which configuration wins: {ADAM} and {SGD} cannot be told "
        f"apart by validation accuracy here (one seed on a side: no test); {AT_SMALL} can: "
    )


def test_when_the_reference_itself_cannot_tell_no_suite_here_can():
    unsettled = Ranking(ADAM, SGD, 0.4, False)
    assert said("cnn-optimizers", AHEAD, ref(unsettled)) == [
        f"At these settings {ADAM} is ahead of {SGD} by validation accuracy here (Welch's "
        f"t-test, p = {P_AHEAD:.2g}), but {AT_SMALL} cannot confirm it: {ADAM} and {SGD} "
        "cannot be told apart by validation accuracy there (Welch's t-test, p = 0.4); no "
        "suite here can tell which wins."
    ]
    assert said("cnn-optimizers", OVERLAP, ref(unsettled)) == [
        f"No suite here can tell which configuration wins: {ADAM} and {SGD} cannot be told "
        f"apart by validation accuracy here (Welch's t-test, p = {P_OVERLAP:.2g}), and in "
        f"{AT_SMALL} {ADAM} and {SGD} cannot be told apart by validation accuracy there "
        "(Welch's t-test, p = 0.4)."
    ]


def test_a_failed_seed_is_left_out_not_counted_as_a_loss():
    trials = opt("adam", 1e-3, (0.90, 0.92, None), status="failed")
    trials += opt("sgd", 1e-2, (0.70, 0.71, 0.72))
    p = p_of([0.90, 0.92], [0.70, 0.71, 0.72])
    assert said("cnn-optimizers", trials, ref(ADAM_WINS, sized=FULL, keys=CIFAR)) == [
        "At these settings the conclusion matches the reference run (the course's full "
        f"settings, --dataset cifar10 --download true, 3 seeds, {DATE}): {ADAM} ahead by "
        f"validation accuracy (Welch's t-test, p = {p:.2g} here; Welch's t-test, p = 0.004 "
        "there).",
        f"Left out of this check, not counted as losses: {ADAM} (seed 3): failed.",
    ]


def test_the_reference_winner_without_results_here_cannot_tell():
    trials = opt("adam", 1e-3, (None, None), status="diverged") + opt("sgd", 1e-2, (0.7, 0.71))
    chose_nothing = {"optimizer": "adam", "learning_rate": 1e-3}  # finished, no validation
    trials.append(trial("adam-lr0.001-seed3", chose_nothing, seed=3))
    assert said("cnn-optimizers", trials, ref(ADAM_WINS)) == [
        f"This suite cannot tell which configuration wins: only {SGD} finished here; "
        f"{AT_SMALL} can: {ADAM} is ahead of {SGD} by validation accuracy there (Welch's "
        "t-test, p = 0.004).",
        COMMAND_CAN,
        f"Left out of this check, not counted as losses: {ADAM} (seed 1): diverged; {ADAM} "
        f"(seed 2): diverged; {ADAM} (seed 3): no result.",
    ]
    assert said("cnn-optimizers", [], ref(ADAM_WINS))[0] == (
        "This suite cannot tell which configuration wins: no configuration finished here; "
        f"{AT_SMALL} can: {ADAM} is ahead of {SGD} by validation accuracy there (Welch's "
        "t-test, p = 0.004)."
    )


def test_no_reference_is_said_in_one_sentence():
    assert said("cnn-optimizers", AHEAD) == [
        "No reference run is recorded for cnn-optimizers: whether a larger run comes to the "
        "same conclusion as these settings is not known."
    ]


def test_every_report_gets_the_sentences_after_the_sections_findings(monkeypatch):
    sweep = SWEEPS["cnn-optimizers"]
    monkeypatch.setattr(reference, "REFERENCES", ())
    assert sweep.findings(None, AHEAD) == findings.optimizers(None, AHEAD) + [
        "No reference run is recorded for cnn-optimizers: whether a larger run comes to the "
        "same conclusion as these settings is not known."
    ]
    monkeypatch.setattr(reference, "REFERENCES", (ref(ADAM_WINS),))
    assert sweep.findings(None, AHEAD)[-1].startswith("At these settings the conclusion")


def length(cell, T, test, seed=1, status="completed"):
    keys = {"cell": cell, "input_length": T}
    return trial(f"{cell}-T{T}-seed{seed}", keys, test, test, status, seed)


RNN_FALLS_AT_15 = [length("rnn", T, a) for T, a in ((5, 1.0), (10, 0.95), (15, 0.3))]
LSTM_HOLDS = [length("lstm", T, 1.0) for T in (5, 10, 15)]
LENGTHS_SMALL = (
    "the reference run at the largest that fits 2 cores, --train_steps 2000 (command: "
    f"classicnets sweep rnn-lengths --train_steps 2000 --seeds 3; 3 seeds, {DATE})"
)
WHERE = (
    "This suite cannot tell where each cell falls below 90% (mean test accuracy at the step "
    "validation chose): here "
)


def lengths_ref(first_below):
    return ref(Falls(first_below), "rnn-lengths", keys={"train_steps": "2000"})


def test_lengths_that_fall_at_the_same_T_agree():
    trials = RNN_FALLS_AT_15 + LSTM_HOLDS
    assert said("rnn-lengths", trials, lengths_ref({"rnn": 15, "lstm": None})) == [
        "At these settings the conclusion matches the reference run (the largest that fits 2 "
        f"cores, --train_steps 2000, 3 seeds, {DATE}): rnn falls below 90% at T = 15; lstm "
        "stays at 90% or above to the longest T (mean test accuracy at the step validation "
        "chose)."
    ]


def test_a_fall_at_another_T_or_none_cannot_tell():
    trials = RNN_FALLS_AT_15 + LSTM_HOLDS
    assert said("rnn-lengths", trials, lengths_ref({"rnn": 20, "lstm": 10})) == [
        f"{WHERE}rnn falls below 90% at T = 15; lstm stays at 90% or above to the longest T; "
        f"{LENGTHS_SMALL} can: rnn falls below 90% at T = 20; lstm falls below 90% at "
        "T = 10.",
        COMMAND_CAN,
    ]
    assert said("rnn-lengths", trials, lengths_ref({"rnn": None, "lstm": None})) == [
        f"{WHERE}rnn falls below 90% at T = 15; {LENGTHS_SMALL} can: rnn stays at 90% or "
        "above to the longest T.",
        COMMAND_CAN,
        "For lstm this suite agrees with the reference run.",
    ]


def test_a_missing_length_is_not_a_fall():
    before = [length("rnn", 5, 1.0), length("rnn", 10, None, status="failed")]
    before.append(length("rnn", 15, 0.3))
    assert said("rnn-lengths", before, lengths_ref({"rnn": 15, "gru": 20})) == [
        f"{WHERE}rnn has no result at T = 10; gru was not run; {LENGTHS_SMALL} can: rnn falls "
        "below 90% at T = 15; gru falls below 90% at T = 20.",
        COMMAND_CAN,
        "Left out of this check, not counted as losses: rnn at T = 10 (seed 1): failed.",
    ]
    after = RNN_FALLS_AT_15 + [length("rnn", 20, None, status="diverged")]
    assert said("rnn-lengths", after, lengths_ref({"rnn": 15})) == [
        "At these settings the conclusion matches the reference run (the largest that fits 2 "
        f"cores, --train_steps 2000, 3 seeds, {DATE}): rnn falls below 90% at T = 15 (mean "
        "test accuracy at the step validation chose).",
        "Left out of this check, not counted as losses: rnn at T = 20 (seed 1): diverged.",
    ]


def test_lengths_over_seeds_use_the_mean():
    trials = [length("rnn", 5, a, seed=s) for s, a in ((1, 1.0), (2, 0.7))]  # mean 85%
    assert reproduce.falls(trials).conclusion == Falls({"rnn": 5})


def toy(dataset, impl, seed, accuracy, status="completed"):
    t = trial(f"{dataset}-{impl}-seed{seed}", {"dataset": dataset, "impl": impl}, seed=seed,
              status=status)  # fmt: skip
    t["final"] = {"test": {"accuracy": accuracy, "loss": 0.2}}
    return t


def test_toy_parity_agrees_or_cannot_tell():
    trials = [toy("moons", impl, s, 0.99) for s in (1, 2) for impl in ("numpy", "torch")]
    trials += [toy("circles", "numpy", 1, 0.9), toy("circles", "torch", 1, 0.8)]
    trials += [toy("circles", "numpy", 2, 0.9), toy("circles", "torch", 2, 0.0, "failed")]
    toy_ref = ref(Parity({"moons": True, "circles": True}), "mlp-toy-compare", FULL, {})
    assert said("mlp-toy-compare", trials, toy_ref) == [
        "This suite cannot tell whether NumPy and PyTorch agree (final test accuracy: both "
        "MLPs run every epoch, no split chooses): here on circles NumPy and PyTorch differ in "
        "a seed; the reference run at the course's full settings (command: classicnets sweep "
        f"mlp-toy-compare --seeds 3; 3 seeds, {DATE}) can: on circles NumPy and PyTorch "
        "reach the same final test accuracy in every seed.",
        FULL_CAN,
        "For moons this suite agrees with the reference run.",
        "Left out of this check, not counted as losses: circles seed 2: numpy completed, "
        "torch failed.",
    ]
    moons_ref = ref(Parity({"moons": True}), "mlp-toy-compare", FULL, {})
    assert said("mlp-toy-compare", trials[:4], moons_ref) == [
        "At these settings the conclusion matches the reference run (the course's full "
        f"settings, 3 seeds, {DATE}): on moons NumPy and PyTorch reach the same final test "
        "accuracy in every seed (final test accuracy: both MLPs run every epoch, no split "
        "chooses)."
    ]


def test_a_reference_is_sized_as_full_or_the_largest_that_fits():
    with pytest.raises(ValueError, match="sized must begin with"):
        ref(ADAM_WINS, sized="big")
    assert ref(ADAM_WINS, sized=FULL).full
    assert not ref(ADAM_WINS, sized=f"{TWO_CORES}, 2,000 steps not 10,000").full


KINDS = {"mlp-toy-compare": Parity, "rnn-lengths": Falls}  # the others rank: Ranking


def _names(sweep):
    """What the sweep's conclusion can name: each configuration's label (cell or data set
    for lengths and parity), read through its own `conclude` from one run of it."""
    conclude = SWEEPS[sweep].report.conclude
    names = set()
    for name, _, keys in SWEEPS[sweep].trials:
        if sweep == "mlp-toy-compare":
            names.add(keys["dataset"])
            continue
        got = conclude([trial(name, keys, 0.5)]).conclusion
        names |= set(got.first_below) if isinstance(got, Falls) else {got.first}
    return names


def _fits(entry, table):
    """Is a reference entry one its sweep's report can set a suite against?"""
    c = entry.conclusion
    if isinstance(c, Ranking):
        named = {c.first, c.second} - {""}
    else:
        named = set(c.first_below if isinstance(c, Falls) else c.same)
    full = {s.sweep: s.keys for s in SUITES["full"]}
    return (
        entry.sweep in SWEEPS
        and isinstance(c, KINDS.get(entry.sweep, Ranking))
        and sum(r.sweep == entry.sweep for r in table) == 1
        and named <= _names(entry.sweep)  # names the sweep's findings give
        and (not entry.full or entry.keys == full[entry.sweep])  # the full suite runs it
    )


@pytest.mark.parametrize("entry", reference.REFERENCES, ids=lambda r: r.sweep)
def test_each_recorded_reference_fits_its_sweep(entry):
    assert _fits(entry, reference.REFERENCES)


def test_the_fit_check_refuses_what_the_report_could_not_use():
    good = ref(ADAM_WINS, sized=FULL, keys=CIFAR)
    assert _fits(good, (good,))
    assert not _fits(good, (good, good))  # two references for one study
    assert not _fits(ref(ADAM_WINS, sized=FULL), (good,))  # keys the full suite does not set
    typo = ref(Ranking("adam at lr 1e-3", SGD, 0.004, True))  # findings say "lr 0.001"
    assert not _fits(typo, (typo,))
    assert not _fits(ref(Falls({"rnn": 5})), ())  # a ranking study
    lengths = lengths_ref({"rnn": 20, "lstm": None})
    assert _fits(lengths, (lengths,))


def test_every_reported_sweep_concludes():
    assert all(s.report.conclude is not None for s in SWEEPS.values() if s.report)
    assert "adam at lr 0.001" in _names("cnn-optimizers")
    assert {"cnn", "mlp"} <= _names("mlp-vs-cnn")


def test_measured_reads_a_sweep_directory(tmp_path):
    record = {"sweep": "cnn-optimizers", "trials": AHEAD}
    (tmp_path / "sweep.json").write_text(json.dumps(record))
    assert reproduce.measured(tmp_path) == Ranking(ADAM, SGD, P_AHEAD, True)
