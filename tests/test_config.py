"""config.define and the parsing of keys: what is refused where it is declared, tuple keys,
round trips through config.json's dict, and the loop settings a config gives."""

from __future__ import annotations

import dataclasses
import json
from typing import Literal

import pytest
import torch

from classicnets import config
from classicnets.config import Key, positive
from classicnets.errors import UsageError
from classicnets.experiments import rnn_palindrome
from classicnets.experiments.mlp_toy import MLPToyConfig
from classicnets.train.loop import LoopSettings

ANY_TYPE = (
    "is not one the command line parses; use int, float, str, bool, a Literal of strings, "
    "tuple[int, ...] or tuple[float, ...]"
)
COUNT = {"count": Key(int, 1, "how many", positive)}


# --- refused where it is declared ---
@pytest.mark.parametrize(
    "tp",
    [int | None, list[int], dict, tuple[int], tuple[str, ...]],
    ids=["optional", "list", "dict", "tuple-of-one", "tuple-of-str"],
)
def test_a_type_the_command_line_cannot_parse_is_refused_at_definition(tp):
    with pytest.raises(TypeError) as caught:
        config.define("Bad", value=Key(tp, None, "a value"))
    assert str(caught.value) == f"Bad.value: type {tp!r} {ANY_TYPE}"


def test_a_literal_of_numbers_is_refused_at_definition():
    with pytest.raises(TypeError) as caught:
        config.define("Bad", level=Key(Literal[1, 2], 1, "a level"))
    assert str(caught.value) == "Bad.level: a Literal of strings only (the command line gives text)"


def test_a_key_declared_by_two_groups_is_refused():
    with pytest.raises(TypeError) as caught:
        config.define("Bad", COUNT, {"count": Key(int, 2, "also how many")})
    assert str(caught.value) == "Bad: key 'count' is declared by two of its groups"


def test_an_own_key_that_a_group_has_is_refused_in_another_type():
    with pytest.raises(TypeError) as caught:
        config.define("Bad", COUNT, count=Key(float, 2.0, "how many, again"))
    assert str(caught.value) == (
        "Bad: key 'count' is a group's int; restate it with the same type, or give a value"
    )


def test_a_group_key_restated_in_its_type_takes_the_new_default_and_help():
    Restated = config.define("Restated", COUNT, count=Key(int, 2, "how many: two here"))
    field = next(f for f in dataclasses.fields(Restated) if f.name == "count")
    assert (field.default, field.metadata["help"]) == (2, "how many: two here")


def test_a_plain_default_for_a_key_no_group_has_is_refused():
    with pytest.raises(TypeError) as caught:
        config.define("Bad", COUNT, cuont=3)
    assert str(caught.value) == "Bad: default for 'cuont', which none of its groups has"


@pytest.mark.parametrize(
    "groups, own, default",
    [((), {"count": Key(int, -1, "how many", positive)}, -1), ((COUNT,), {"count": 0}, 0)],
    ids=["own-key", "new-default-for-a-group-key"],
)
def test_a_default_that_fails_its_own_check_is_refused(groups, own, default):
    with pytest.raises(TypeError) as caught:
        config.define("Bad", *groups, **own)
    assert str(caught.value) == (
        f"Bad.count: its default {default} fails its own check (must be > 0)"
    )


def test_every_accepted_type_defines():
    cls = config.define(
        "Good",
        n=Key(int, 1, "n"),
        x=Key(float, 0.5, "x"),
        s=Key(str, "a", "s"),
        b=Key(bool, False, "b"),
        choice=Key(Literal["a", "b"], "a", "choice"),
        ints=Key(tuple[int, ...], (1, 2), "ints"),
        floats=Key(tuple[float, ...], (0.5,), "floats"),
    )
    assert cls() == cls(n=1, x=0.5, s="a", b=False, choice="a", ints=(1, 2), floats=(0.5,))


# --- tuple keys ---
RATES = config.define(
    "RatesConfig", rates=Key(tuple[float, ...], (0.1,), "dropout rates, one per layer")
)


def test_a_float_tuple_key_parses_comma_separated_numbers_to_floats():
    value = config.parse_value(RATES, "rates", "0.5,0.25")
    assert value == (0.5, 0.25) and all(type(v) is float for v in value)
    assert config.parse_value(RATES, "rates", "1") == (1.0,)
    assert type(config.parse_value(RATES, "rates", "1")[0]) is float
    assert config.build(RATES, {"rates": "0.5,0.25"}) == RATES(rates=(0.5, 0.25))


@pytest.mark.parametrize("text", ["0.5,x", "0.5,,0.25", "0.5,inf", ""])
def test_a_float_tuple_key_refuses_what_is_not_numbers_in_one_line(text):
    with pytest.raises(UsageError) as caught:
        config.parse_value(RATES, "rates", text)
    assert str(caught.value) == (
        f"--rates {text!r}: expected comma-separated numbers, e.g. 0.5,0.25"
    )


def test_an_int_tuple_key_still_refuses_a_broken_list_as_the_readme_shows(cli):
    code, out, err = cli("train", "mlp-toy", "--dnn_hidden_units", "20,,x", "--quiet")
    assert code == 2
    assert err == (
        "classicnets: error: --dnn_hidden_units '20,,x': expected comma-separated positive "
        "integers, e.g. 1024,512\n"
    )
    assert not (cli.cwd / "runs").exists()  # refused before anything was written


def test_an_int_tuple_key_parses_and_checks_its_values():
    assert config.parse_value(MLPToyConfig, "dnn_hidden_units", "20,10") == (20, 10)
    with pytest.raises(UsageError) as caught:
        config.parse_value(MLPToyConfig, "dnn_hidden_units", "20,0")
    assert (
        str(caught.value) == "--dnn_hidden_units '20,0': expected positive integers, e.g. 1024,512"
    )


# --- keys and round trips ---
def test_with_default_changes_the_default_alone():
    key = Key(int, 1, "how many", positive)
    other = key.with_default(5)
    assert (other.type, other.default, other.help, other.check) == (int, 5, "how many", positive)
    assert key.default == 1  # the original is left as it was
    cls = config.define("Counted", count=other)
    assert cls().count == 5
    with pytest.raises(UsageError, match=r"^--count '0': must be > 0, e.g. 10$"):
        config.build(cls, {"count": "0"})  # its check came with it


def test_a_defined_config_round_trips_through_to_dict_and_from_dict():
    cls = config.define(
        "RoundTrip",
        COUNT,
        rates=Key(tuple[float, ...], (0.1, 0.2), "rates"),
        sizes=Key(tuple[int, ...], (4, 2), "sizes"),
        label=Key(str, "x", "a label"),
        flag=Key(bool, False, "a flag"),
        kind=Key(Literal["a", "b"], "a", "a kind"),
        count=3,
    )
    cfg = config.build(cls, {"rates": "0.5,0.25", "sizes": "8", "flag": "true", "kind": "b"})
    data = config.to_dict(cfg)
    assert data == {
        "count": 3, "rates": [0.5, 0.25], "sizes": [8], "label": "x", "flag": True, "kind": "b"
    }  # fmt: skip
    # as config.json holds it: through JSON, extra keys (experiment, threads) ignored
    again = config.from_dict(cls, {**json.loads(json.dumps(data)), "experiment": "x"})
    assert again == cfg and isinstance(again.rates, tuple) and isinstance(again.sizes, tuple)
    toy = config.build(MLPToyConfig, {"dnn_hidden_units": "20,10", "learning_rate": "0.5"})
    assert config.from_dict(MLPToyConfig, config.to_dict(toy)) == toy


TYPED = config.define(
    "Typed",
    COUNT,
    rate=Key(float, 0.5, "a rate", positive),
    sizes=Key(tuple[int, ...], (4, 2), "sizes"),
    rates=Key(tuple[float, ...], (0.1,), "rates"),
    label=Key(str, "x", "a label"),
    flag=Key(bool, False, "a flag"),
    kind=Key(Literal["a", "b"], "a", "a kind"),
)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("count", "3", "count '3': expected an integer, e.g. 10"),  # text that would parse
        ("count", 3.0, "count 3.0: expected an integer"),
        ("count", True, "count true: expected an integer"),  # JSON true is no integer
        ("count", 0, "count 0: must be > 0, e.g. 10"),  # the key's own check
        ("count", None, "count null: expected an integer"),
        ("rate", "0.5", "rate '0.5': expected a finite number"),
        ("rate", float("inf"), "rate Infinity: expected a finite number"),
        ("rate", -1, "rate -1: must be > 0"),
        ("sizes", "4,2", "sizes '4,2': expected a list of integers, e.g. [1024, 512]"),
        ("sizes", [4, "2"], 'sizes [4, "2"]: expected a list of integers'),
        ("sizes", [4, True], "sizes [4, true]: expected a list of integers"),
        ("rates", [0.1, None], "rates [0.1, null]: expected a list of numbers"),
        ("label", 7, "label 7: expected a string"),
        ("flag", 1, "flag 1: expected true or false"),
        ("kind", "c", "kind 'c': expected one of a, b"),
        ("kind", ["a"], 'kind ["a"]: expected one of a, b'),
        ("label", {"deep": [1]}, 'label {"deep": [1]}: expected a string'),
    ],
)
def test_from_dict_checks_types_and_checks_naming_the_file_and_the_key(key, value, problem):
    with pytest.raises(UsageError) as error:
        config.from_dict(TYPED, {key: value}, "runs/x/config.json")
    message = str(error.value)
    assert message.startswith(f"runs/x/config.json: {problem}")
    assert message.endswith("the run record is damaged: run it again into a new --out")
    assert "\n" not in message


def test_from_dict_keeps_what_it_would_have_written_and_quotes_a_long_value_briefly():
    cfg = config.from_dict(TYPED, {"count": 2, "rate": 1, "sizes": [3], "rates": [1, 0.5]})
    assert (cfg.count, cfg.rate, cfg.sizes, cfg.rates) == (2, 1.0, (3,), (1.0, 0.5))
    assert isinstance(cfg.rate, float) and all(isinstance(r, float) for r in cfg.rates)
    assert config.from_dict(TYPED, {}) == TYPED()  # a key it lacks takes its default
    with pytest.raises(UsageError) as error:
        config.from_dict(TYPED, {"label": ["a\nb" * 100]})
    assert len(str(error.value)) < 200 and "\n" not in str(error.value)
    with pytest.raises(UsageError, match=r"^config.json: count"):  # the default source
        config.from_dict(TYPED, {"count": "x"})


# --- the loop's settings from a config ---
LOOPED = config.define(
    "Looped",
    epochs=Key(int, 3, "epochs"),
    eval_freq=Key(int, 2, "eval_freq"),
    batch_size=Key(int, 16, "batch_size"),
    seed=Key(int, 9, "seed"),
    patience=Key(int, 4, "patience"),
    other=Key(int, 1, "not the loop's"),
)


def test_loop_settings_take_the_configs_keys_and_a_given_value_wins():
    cfg = LOOPED()
    assert LoopSettings.from_keys(cfg) == LoopSettings(3, 2, 16, 9, 4)
    assert LoopSettings.from_keys(cfg, epochs=7) == LoopSettings(7, 2, 16, 9, 4)
    no_patience = config.define(
        "NoPatience", epochs=Key(int, 3, "e"), eval_freq=Key(int, 2, "f"),
        batch_size=Key(int, 16, "b"), seed=Key(int, 9, "s"),
    )  # fmt: skip
    assert LoopSettings.from_keys(no_patience()).patience == 0  # the loop's default


def test_rnn_palindrome_loop_epochs_are_its_train_steps():
    cfg = config.build(
        rnn_palindrome.PalindromeConfig,
        {
            "train_steps": "7",
            "eval_freq": "3",
            "eval_size": "10",
            "batch_size": "4",
            "patience": "2",
        },
    )
    built = rnn_palindrome.build(cfg, torch.device("cpu"))
    assert built.settings == LoopSettings(
        epochs=7, eval_freq=3, batch_size=4, seed=cfg.seed, patience=2
    )


def test_an_own_key_named_doc_is_a_field_or_refused():
    try:
        cls = config.define("Documented", COUNT, doc=Key(str, "d", "a key named doc"))
    except TypeError:
        return  # refused where it is declared: as good
    assert "doc" in {f.name for f in dataclasses.fields(cls)}
