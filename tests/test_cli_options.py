"""``dfimx run --config run.yaml``: the same run as the flags, stored in the store's attrs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from dfimx.cli import main
from dfimx.store import open_result
from dfimx.tables import to_dataframe


def _flags(files, out):
    return ["run", "--model", files["model"], "--fasta", files["fasta"], "--elements",
            files["elements"], "-o", str(out), "--null-draws", "2", "--seed", "3",
            "--chunk-size", "2", "--score", "abs_sum", "--null-level", "task", "--no-progress"]


def _config(files, out, **extra):
    cfg = {"model": files["model"], "fasta": files["fasta"], "elements": files["elements"],
           "output": str(out), "null-draws": 2, "seed": 3, "chunk_size": 2,
           "score": "abs_sum", "null_level": "task", "no_progress": True}
    cfg.update(extra)
    return cfg


def _write_yaml(path, cfg):
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _last_error(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_config_run_equals_flag_run_and_is_stored(oracle_files, tmp_path):
    assert main(_flags(oracle_files, tmp_path / "flags.zarr")) == 0
    run_yaml = _write_yaml(tmp_path / "run.yaml", _config(oracle_files, tmp_path / "cfg.zarr"))
    assert main(["run", "--config", run_yaml]) == 0
    flags, cfg = open_result(tmp_path / "flags.zarr"), open_result(tmp_path / "cfg.zarr")
    pd.testing.assert_frame_equal(to_dataframe(flags), to_dataframe(cfg))
    assert flags.attrs["dfimx_settings"] == cfg.attrs["dfimx_settings"]
    settings = json.loads(cfg.attrs["dfimx_settings"])
    assert (settings["seed"], settings["score"], settings["null_draws"]) == (3, "abs_sum", 2)
    stored = json.loads(cfg.attrs["config"])
    assert stored["config_file"] == run_yaml
    assert (stored["seed"], stored["null_draws"], stored["score"]) == (3, 2, "abs_sum")
    assert stored["model"] == oracle_files["model"]
    assert json.loads(flags.attrs["config"])["seed"] == 3

    # the command line overrides the file
    assert main(["run", "--config", run_yaml, "--seed", "4", "-o",
                 str(tmp_path / "over.zarr")]) == 0
    over = open_result(tmp_path / "over.zarr")
    assert json.loads(over.attrs["dfimx_settings"])["seed"] == 4
    assert json.loads(over.attrs["config"])["seed"] == 4


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"nul_draws": 3}, "unknown option 'nul_draws'"),
        ({"func": "x"}, "unknown option 'func'"),
        ({"method": "nope"}, "unknown method 'nope'"),
    ],
)
def test_bad_config_exits_2_with_one_line(oracle_files, tmp_path, capsys, extra, message):
    out = tmp_path / "bad.zarr"
    run_yaml = _write_yaml(tmp_path / "bad.yaml", _config(oracle_files, out, **extra))
    assert main(["run", "--config", run_yaml]) == 2
    err = _last_error(capsys)
    assert len(err) == 1 and message in err[0]
    if "unknown option" in message:
        assert run_yaml in err[0]
    assert not out.exists()


def test_config_that_is_not_a_mapping_or_missing(tmp_path, capsys):
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    assert main(["run", "--config", str(listing)]) == 2
    assert "expected a mapping" in _last_error(capsys)[0]
    assert main(["run", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "config file not found" in _last_error(capsys)[0]


@pytest.mark.parametrize(
    "text, message",
    [
        # finding 10: strings are not booleans ("false" and "no" were read as true)
        ("keep_delta: 'false'", "keep_delta: expected true or false, got 'false'"),
        ("keep-null: 'no'", "keep-null: expected true or false, got 'no'"),
        ("keep_importance: 0", "keep_importance: expected true or false, got 0"),
        # numbers of the wrong type
        ("n_shuffles: '8'", "n_shuffles: expected a whole number, got '8'"),
        ("batch_size: 2.5", "batch_size: expected a whole number, got 2.5"),
        ("workers: true", "workers: expected a whole number, got True"),
        ("gc: 0.4x", "gc: expected a number, got '0.4x'"),
        ("scan: 40:50", "scan: expected text, got 2450 (quote it"),
        ("task: {a: 1}", "task: expected a name or index"),
        ("output_layer: logits", "output_layer: unknown value 'logits'"),
        # an option given twice is not silently the last one
        ("seed: 5", "key 'seed' is given twice"),
        ("null_draws: 5", "option 'null_draws' is given twice (as 'null-draws' and "),
        # finding 5: only the command line grants --unsafe-model
        ("unsafe_model: true", "'unsafe_model': unsafe_model can only be given on the command"),
        ("unsafe-model: false", "'unsafe-model': unsafe_model can only be given"),
        ("Unsafe_Model: yes", "'Unsafe_Model': unsafe_model can only be given"),
        ("--unsafe-model: true", "'--unsafe-model': unsafe_model can only be given"),
    ],
)
def test_config_values_are_typed(oracle_files, tmp_path, capsys, text, message):
    out = tmp_path / "typed.zarr"
    path = tmp_path / "typed.yaml"
    path.write_text(yaml.safe_dump(_config(oracle_files, out)) + text + "\n")
    assert main(["run", "--config", str(path)]) == 2
    err = _last_error(capsys)
    assert len(err) == 1 and err[0].startswith(f"dfimx: error: {path}: "), err
    assert message in err[0], err
    assert not out.exists()


def test_config_types_read_as_meant(oracle_files, tmp_path):
    """`task: head` is one task (not letters), `keep_delta: false` is false, `gc: 4e-1`
    (text in YAML 1.1) is 0.4, and a bare `null:` key is the null option."""
    out = tmp_path / "typed.zarr"
    path = tmp_path / "typed.yaml"
    path.write_text(
        f"model: {oracle_files['model']}\nfasta: {oracle_files['fasta']}\n"
        f"elements: {oracle_files['elements']}\noutput: {out}\nno_progress: true\n"
        "null: none\ntask: head\nkeep_delta: false\ngc: 4e-1\n")
    assert main(["run", "--config", str(path)]) == 0
    ds = open_result(out)
    assert ds.task.values.tolist() == ["head"]
    assert "delta" not in ds
    settings = json.loads(ds.attrs["dfimx_settings"])
    assert (settings["gc"], settings["null"], settings["keep_delta"]) == (0.4, "none", False)
    assert json.loads(ds.attrs["config"])["task"] == ["head"]
