"""--config FILE (JSON or YAML), --print_config, hyphenated flags and --no-KEY.

A run's own config.json is valid input and reproduces the run; every bad file is one line,
exit 2, naming the file, the key and the fix, with nothing written.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import classicnets
from classicnets import config, configfile
from classicnets.errors import UsageError
from classicnets.experiments import EXPERIMENTS
from classicnets.records import CONFIG_RECORD
from tests.conftest import files_under, read_json, read_jsonl

TINY = ["--epochs", "3", "--n_samples", "60", "--eval_freq", "1", "--quiet"]


def rows_but_time(run: Path) -> list[dict]:
    rows = read_jsonl(run / "metrics.jsonl")
    assert rows  # an empty record would compare equal to anything
    return [{k: v for k, v in row.items() if k != "time_s"} for row in rows]


def printed(cli, *argv: str) -> dict:
    code, out, err = cli(*argv, "--print_config")
    assert code == 0, err
    return json.loads(out)


def test_a_runs_config_json_trains_the_same_run_again(cli):
    code, _, err = cli("train", "mlp-toy", *TINY, "--learning_rate", "0.05", "--out", "A")
    assert code == 0, err
    code, _, err = cli("train", "mlp-toy", "--config", "A/config.json", "--out", "B", "--quiet")
    assert code == 0, err
    assert rows_but_time(cli.cwd / "B") == rows_but_time(cli.cwd / "A")
    a, b = read_json(cli.cwd / "A" / "config.json"), read_json(cli.cwd / "B" / "config.json")
    assert a == b and a["learning_rate"] == 0.05 and a["epochs"] == 3
    # the record holds its keys and CONFIG_RECORD's fields, nothing else
    assert set(a) == set(config.field_types(EXPERIMENTS["mlp-toy"].config)) | set(CONFIG_RECORD)
    # and from Python, with a key beside the file that changes nothing but the out
    run = classicnets.train("mlp-toy", config=cli.cwd / "A/config.json", out="C", progress=False)
    assert rows_but_time(run.dir) == rows_but_time(cli.cwd / "A")


def test_print_config_is_the_resolved_keys_as_json_and_writes_nothing(cli):
    (cli.cwd / "cnn.yaml").write_text(
        "# a comment\nlearning-rate: 1e-3\ndnn_hidden_units: [64, 32]\nbatchnorm: no\n"
        "epochs: 5\nexperiment: mlp-images\n"
    )
    shown = printed(cli, "train", "mlp-images", "--config", "cnn.yaml", "--epochs", "2")
    assert shown["experiment"] == "mlp-images"
    assert shown["learning_rate"] == 1e-3  # YAML reads 1e-3 as text: parsed as the flag's
    assert shown["dnn_hidden_units"] == [64, 32] and shown["batchnorm"] is False
    assert shown["epochs"] == 2  # the flag wins
    assert shown["optimizer"] == "adamw"  # the experiment's default for what the file lacks
    assert [p.name for p in files_under(cli.cwd)] == ["cnn.yaml"]
    # what it prints is valid --config input, and gives the same keys back
    (cli.cwd / "printed.json").write_text(json.dumps(shown))
    assert printed(cli, "train", "mlp-images", "--config", "printed.json") == shown


def test_a_single_number_is_a_one_layer_list_and_json_types_are_checked(cli):
    (cli.cwd / "c.json").write_text('{"dnn_hidden_units": 20, "noise": 0, "impl": "torch"}')
    shown = printed(cli, "train", "mlp-toy", "--config", "c.json")
    assert shown["dnn_hidden_units"] == [20] and shown["noise"] == 0.0 and shown["impl"] == "torch"


def test_flags_take_hyphens_and_booleans_their_bare_and_negated_forms(cli):
    base = ["train", "mlp-images"]
    assert printed(cli, *base, "--learning-rate", "0.1")["learning_rate"] == 0.1
    assert printed(cli, *base, "--learning_rate", "0.1")["learning_rate"] == 0.1
    assert printed(cli, *base, "--augment", "--epochs", "3")["augment"] is True
    assert printed(cli, *base, "--augment", "true")["augment"] is True
    assert printed(cli, *base, "--augment", "false")["augment"] is False
    assert printed(cli, *base, "--no-augment")["augment"] is False
    assert printed(cli, *base, "--no-batchnorm")["batchnorm"] is False
    assert printed(cli, *base, "--augment", "--no-augment")["augment"] is False  # last wins
    (cli.cwd / "on.yaml").write_text("augment: true\n")
    assert printed(cli, *base, "--config", "on.yaml", "--no-augment")["augment"] is False
    assert files_under(cli.cwd) == [cli.cwd / "on.yaml"]


def test_help_lists_every_key_once_with_the_new_flags(cli, capsys):
    with pytest.raises(SystemExit):
        cli("train", "mlp-images", "--help")
    out = capsys.readouterr().out
    options = out[out.index("options:") :]
    for f in dataclasses.fields(EXPERIMENTS["mlp-images"].config):
        listed = re.findall(rf"^  --{f.name}[ \n]", options, flags=re.MULTILINE)
        assert len(listed) == 1, f.name  # once: the aliases stay out of the listing
        assert f"(default: {config.format_value(f.default)})" in " ".join(options.split())
    assert options.count("--learning-rate") == 1 and "--no-augment" not in out  # epilog only
    assert "--config FILE" in out and "--print_config" in out and "--augment [BOOL]" in out


BAD_FILES = [  # (file name, its bytes or None for a directory, what the error names)
    ("gone.yaml", None, ["--config 'gone.yaml'", "no such file"]),
    ("adir", b"", ["'adir' is a directory", "JSON or YAML file"]),
    ("b.json", b'{"epochs": 1,}', ["b.json: not valid JSON", "line 1", "fix the file"]),
    ("b.yaml", b"epochs: [1\n", ["b.yaml: not valid YAML", "line 2"]),
    ("list.yaml", b"- 1\n- 2\n", ["list.yaml holds a list, not a mapping", "epochs: 10"]),
    ("text.json", b'"epochs"', ["text.json holds text, not a mapping"]),
    ("empty.yaml", b"", ["empty.yaml is empty", "epochs: 10"]),
    ("bin.yaml", b"\xff\xfe\x00", ["'bin.yaml' is not UTF-8"]),
    ("k.yaml", b"learning_rat: 0.1\n", ["k.yaml: unknown key 'learning_rat'", "learning_rate"]),
    ("z.yaml", b"zzz: 1\n", ["z.yaml: unknown key 'zzz'", "train mlp-toy --help"]),
    ("v.yaml", b"epochs: ten\n", ["v.yaml: epochs 'ten': expected an integer, e.g. 10"]),
    ("n.yaml", b"epochs: 0\n", ["n.yaml: epochs 0: must be > 0"]),
    ("u.yaml", b"dnn_hidden_units: 20,,x\n", ["u.yaml: dnn_hidden_units '20,,x'", "1024,512"]),
    ("l.json", b'{"dnn_hidden_units": [1.5]}', ["l.json: dnn_hidden_units [1.5]", "integers"]),
    ("f.json", b'{"learning_rate": NaN}', ["f.json: learning_rate NaN", "finite"]),
    ("big.json", b'{"learning_rate": 1' + b"0" * 400 + b"}", ["big.json: learning_rate"]),
    ("c.yaml", b"impl: jax\n", ["c.yaml: impl 'jax': expected one of numpy, torch"]),
    ("s.yaml", b"dataset: 3\n", ["s.yaml: dataset 3: expected a string"]),
    ("null.yaml", b"epochs:\n", ["null.yaml: epochs null: no value", "remove the key"]),
    ("two.yaml", b"learning-rate: 1\nlearning_rate: 2\n", ["two.yaml: key learning_rate is given"]),
    ("int.yaml", b"1: 2\n", ["int.yaml: key 1 is not a name"]),
    ("e.yaml", b"experiment: cnn\n", ["e.yaml: experiment 'cnn' is not mlp-toy", "train cnn"]),
    ("x.yaml", b"experiment: [1]\n", ["x.yaml: experiment [1] is not mlp-toy"]),
    ("sw.json", b'{"sweep": "mlp-toy-compare"}', ["sw.json holds the keys of sweep", "run's"]),
    ("date.yaml", b"seed: 2026-13-45\n", ["date.yaml: not valid YAML"]),
    ("deep.json", b"[" * 100000, ["deep.json: "]),
    ("nl.yaml", b'"a\\nb": 1\n', ["nl.yaml: unknown key 'a\\nb'"]),  # one line still
]  # fmt: skip


@pytest.mark.parametrize(("name", "blob", "names"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_config_file_is_one_line_exit_2_and_writes_nothing(cli, name, blob, names):
    if name == "adir":
        (cli.cwd / name).mkdir()
    elif blob is not None:
        (cli.cwd / name).write_bytes(blob)
    before = files_under(cli.cwd)
    code, out, err = cli("train", "mlp-toy", "--config", name, "--out", "run", "--quiet")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("classicnets: error: "), err
    for part in names:
        assert part in err, err
    assert files_under(cli.cwd) == before  # nothing written


def test_a_directory_holding_a_config_json_is_named_as_the_fix(cli):
    (cli.cwd / "A").mkdir()
    (cli.cwd / "A" / "config.json").write_text("{}")
    code, _, err = cli("train", "mlp-toy", "--config", "A", "--print_config")
    assert code == 2 and "e.g. A/config.json" in err


def test_a_sweep_takes_a_config_file_and_its_flags_win(cli):
    (cli.cwd / "s.yaml").write_text("sweep: mlp-toy-compare\nepochs: 3\nn-samples: 60\n")
    shown = printed(cli, "sweep", "mlp-toy-compare", "--config", "s.yaml", "--epochs", "2")
    assert shown == {"sweep": "mlp-toy-compare", "epochs": 2, "n_samples": 60}
    assert files_under(cli.cwd) == [cli.cwd / "s.yaml"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("dataset: moons\n", ["s.yaml: dataset is set by each trial of mlp-toy-compare"]),
        ("sweep: rnn-lengths\n", ["s.yaml: sweep 'rnn-lengths' is not mlp-toy-compare"]),
        ("experiment: cnn\n", ["s.yaml: experiment 'cnn' is not one that mlp-toy-compare runs"]),
        ("width: 0.5\n", ["s.yaml: unknown key 'width'", "sweep mlp-toy-compare --help"]),
        ("epochs: -1\n", ["s.yaml: epochs -1: must be > 0"]),
    ],
)
def test_a_bad_sweep_config_file_is_one_line_naming_it(cli, text, names):
    (cli.cwd / "s.yaml").write_text(text)
    code, _, err = cli("sweep", "mlp-toy-compare", "--config", "s.yaml", "--quiet")
    assert code == 2 and err.count("\n") == 1
    for part in names:
        assert part in err, err
    assert files_under(cli.cwd) == [cli.cwd / "s.yaml"]


def test_a_search_sweep_refuses_a_drawn_key_from_its_file(cli):
    (cli.cwd / "s.yaml").write_text("learning_rate: 0.1\n")
    code, _, err = cli("sweep", "cnn-optimizers", "--config", "s.yaml", "--search", "2")
    assert code == 2 and "s.yaml: learning_rate is drawn by --search in cnn-optimizers" in err


def test_the_api_takes_a_mapping_or_a_runs_config_and_its_keys_win(tmp_path):
    mlp = EXPERIMENTS["mlp-toy"]
    cfg = configfile.resolve(mlp, {"epochs": 7, "learning-rate": "1e-3"}, {"epochs": "2"})
    assert cfg.epochs == 2 and cfg.learning_rate == 1e-3
    assert configfile.resolve(mlp, cfg, {}) == cfg  # a Run's .config
    with pytest.raises(UsageError, match=r"^config: unknown key 'epoch'; did you mean epochs\?$"):
        classicnets.train("mlp-toy", config={"epoch": 1}, out=tmp_path / "never")
    with pytest.raises(UsageError, match="expected a JSON or YAML file's path, or a mapping"):
        classicnets.train("mlp-toy", config=3, out=tmp_path / "never")
    with pytest.raises(UsageError, match="set by each trial"):
        classicnets.sweep("mlp-toy-compare", config={"impl": "torch"}, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("epochs", 3, 3),
        ("epochs", "3", 3),
        ("learning_rate", 1, 1.0),
        ("learning_rate", "1e-2", 0.01),
        ("dnn_hidden_units", [64, 32], (64, 32)),
        ("dnn_hidden_units", "64,32", (64, 32)),
        ("dnn_hidden_units", 20, (20,)),
        ("impl", "torch", "torch"),
    ],
)
def test_value_from_file_reads_text_as_a_flag_and_values_by_type(key, raw, value):
    got = config.value_from_file(EXPERIMENTS["mlp-toy"].config, key, raw)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("key", "raw"),
    [("epochs", 3.0), ("epochs", True), ("learning_rate", [0.1]), ("dnn_hidden_units", [True])],
)
def test_value_from_file_refuses_the_wrong_json_type(key, raw):
    with pytest.raises(ValueError, match="expected"):
        config.value_from_file(EXPERIMENTS["mlp-toy"].config, key, raw)


def test_print_config_refuses_what_training_would_refuse_before_reading_data(cli):
    code, out, err = cli("train", "mlp-toy", "--batch_size", "801", "--print_config")
    assert code == 2 and out == "" and "--batch_size 801" in err
    code, out, err = cli("sweep", "mlp-toy-compare", "--dataset", "moons", "--print_config")
    assert code == 2 and out == "" and "--dataset is set by each trial" in err
    assert files_under(cli.cwd) == []


# --- hostile files: each is taken whole (and rebuilds to the same config from flags' text),
# or refused in one line that starts with the file's name -----------------------------------
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text()
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
KEY_NAMES = {name: list(config.field_types(e.config)) for name, e in EXPERIMENTS.items()}


@settings(max_examples=150, deadline=None, database=None)
@given(name=st.sampled_from(sorted(KEY_NAMES)), data=st.data(), as_yaml=st.booleans())
def test_a_hostile_config_file_is_taken_whole_or_refused_in_one_line(name, data, as_yaml):
    keys = st.sampled_from(KEY_NAMES[name] + list(CONFIG_RECORD)) | st.text(max_size=8)
    mapping = data.draw(st.dictionaries(keys, VALUES, max_size=4))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("c.yaml" if as_yaml else "c.json")
        path.write_text(yaml.safe_dump(mapping) if as_yaml else json.dumps(mapping))
        try:
            texts = configfile.experiment_keys(EXPERIMENTS[name], path)
        except UsageError as error:
            assert len(str(error).splitlines()) == 1 and str(error).startswith(str(path))
            return
    cls = EXPERIMENTS[name].config
    cfg = config.build(cls, texts)  # what the file gave, the flags' parser takes back
    for key, text in texts.items():
        assert config.format_value(getattr(cfg, key)) == text


@settings(max_examples=100, deadline=None, database=None)
@given(blob=st.binary(max_size=200), as_yaml=st.booleans())
def test_random_bytes_as_a_config_file_are_a_mapping_or_one_line(blob, as_yaml):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("c.yaml" if as_yaml else "c.json")
        path.write_bytes(blob)
        try:
            data, _ = configfile.read(path)
        except UsageError as error:
            assert len(str(error).splitlines()) == 1, error
        else:
            assert isinstance(data, dict)


def test_a_sweep_from_a_file_is_the_sweep_of_the_same_flags(cli):
    (cli.cwd / "sw.yaml").write_text("epochs: 2\nn-samples: 60\nbatch_size: 0\n")
    code, _, err = cli("sweep", "mlp-toy-compare", "--config", "sw.yaml", "--eval_freq", "1",
                       "--out", "sw", "--quiet")  # fmt: skip
    assert code == 0, err
    record = read_json(cli.cwd / "sw" / "sweep.json")
    given = {"epochs": "2", "n_samples": "60", "batch_size": "0", "eval_freq": "1"}
    assert record["overrides"] == given
    assert {t["status"] for t in record["trials"]} == {"completed"}
    trial = read_json(cli.cwd / "sw" / record["trials"][0]["dir"] / "config.json")
    assert (trial["epochs"], trial["n_samples"], trial["batch_size"]) == (2, 60, 0)
    # the same keys as flags are the same study: it is found finished, nothing run again
    metrics = cli.cwd / "sw" / record["trials"][0]["dir"] / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    flags = [f"--{k}={v}" for k, v in given.items()]
    code, out, err = cli("sweep", "mlp-toy-compare", *flags, "--out", "sw", "--quiet")
    assert code == 0 and "6 trials: 6 completed" in out, err
    assert read_json(cli.cwd / "sw" / "sweep.json")["study"] == record["study"]
    assert metrics.stat().st_mtime_ns == before
