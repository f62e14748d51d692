"""The help of every command states the defaults the code really uses, and lists choices.

The oracle for each default is where the code takes it: :class:`dfimx.settings.Settings`
(validated, so the method's reference is resolved), the signatures of ``run_dfim``,
``scan_variants`` and ``integrated_gradients``, and a parsed ``scan-variants`` run.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import pathlib
import re

import pytest

from dfimx.attribution import METHODS, REFERENCES
from dfimx.cli import build_parser
from dfimx.dfim.maps import REDUCTIONS
from dfimx.mutants import MUTATION_MODES
from dfimx.settings import (
    DEFAULT_METHODS,
    DEFAULT_NULLS,
    NULL_KINDS,
    NULL_LEVELS,
    PVALUE_KINDS,
    VARIANT_DEFAULTS,
    Settings,
)


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _helps(name: str) -> dict[str, str]:
    """Option -> its help text, whitespace normalised."""
    return {a.option_strings[-1]: " ".join((a.help or "").split())
            for a in _subparser(name)._actions if a.option_strings}


def _default_in(text: str) -> str:
    match = re.search(r"default:? ([^;)]+)", text)
    assert match, text
    return match.group(1).strip()


@pytest.mark.parametrize(("command", "defaults"), [("run", {}),
                                                   ("scan-variants", VARIANT_DEFAULTS)])
def test_setting_defaults_in_help_are_the_real_ones(command, defaults):
    real = dataclasses.replace(Settings(), **defaults).validate()
    helps = _helps(command)
    plan_dependent = ("method", "null", "null_level") if command == "run" else ()
    for option in ("method", "n_references", "mutation", "n_shuffles", "gc", "score", "null",
                   "null_draws", "pvalue", "null_level", "seed"):
        flag = "--" + option.replace("_", "-")
        if option not in plan_dependent:
            assert _default_in(helps[flag]) == str(getattr(real, option)), (command, flag)
    if plan_dependent:  # run: method and null are the plan's, the pooling level the null's
        for plan, method in DEFAULT_METHODS.items():
            if plan != "variants":  # scan-variants has its own command
                assert re.search(rf"{method} for [a-z_ ]*\b{plan}\b", helps["--method"]), plan
        for plan, null in DEFAULT_NULLS.items():
            assert re.search(rf"{null} for [a-z_ ]*\b{plan}\b", helps["--null"]), plan
        for null in set(DEFAULT_NULLS.values()):
            level = Settings(null=null).validate().null_level
            text = helps["--null-level"]
            assert f"{level} for the {null} null" in text or f"{level} otherwise" in text
    # the reference default per method, as Settings resolves it
    for method in ("deeplift", "deepshap", "gradient"):
        ref = Settings(method=method).validate().reference
        text = helps["--reference"]
        assert f"{ref} for {method}" in text or f"{ref} otherwise" in text, (method, text)


def test_scan_variants_defaults_are_what_a_run_gets(monkeypatch):
    """The help says deepshap/distance: a parsed scan-variants run gets exactly those."""
    import dfimx.run

    seen = {}
    signature = inspect.signature(dfimx.run.scan_variants).parameters

    def fake_scan(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(dfimx.run, "scan_variants", fake_scan)
    args = build_parser().parse_args(["scan-variants", "--model", "m.keras", "--genome",
                                      "g.fa", "--vcf", "v.vcf", "-o", "s.zarr"])
    with pytest.raises(SystemExit):
        args.func(args)
    helps = _helps("scan-variants")
    assert _default_in(helps["--method"]) == seen["settings"].method == "deepshap"
    assert _default_in(helps["--null-level"]) == seen["settings"].null_level == "distance"
    for flag, name in (("--p-value-threshold", "p_value_threshold"),
                       ("--max-motif-targets", "max_motif_targets"),
                       ("--max-cis-variants", "max_cis_variants"),
                       ("--chunk-size", "chunk_size"), ("--batch-size", "batch_size")):
        stated = _default_in(helps[flag])
        assert float(stated) == signature[name].default == seen[name], flag


@pytest.mark.parametrize(("plan", "option"), [("elements", "--elements"), ("scan", "--scan"),
                                              ("mut_dict", "--mut-dict")])
def test_run_gets_the_plans_method_and_null(plan, option, oracle_files, monkeypatch, tmp_path):
    """What the help states per plan is what a parsed ``run`` computes with."""
    import dfimx.run

    seen = {}

    def fake_compute(ds, model, *, settings, **kwargs):
        seen["plan"], seen["settings"] = ds.attrs["plan"], settings
        raise SystemExit(0)

    monkeypatch.setattr(dfimx.run, "compute_dfim", fake_compute)
    value = {"elements": oracle_files["elements"], "scan": "10:20"}.get(plan)
    if plan == "mut_dict":
        value = str(tmp_path / "mut_dict.json")
        pathlib.Path(value).write_text(json.dumps([{
            "seq": "s0", "mut_start": 10, "mut_end": 16, "mut_name": "mid",
            "resp_start": [25], "resp_end": [30], "resp_names": ["right"]}]))
    args = build_parser().parse_args(["run", "--model", oracle_files["model"], "--fasta",
                                      oracle_files["fasta"], option, value,
                                      "-o", str(tmp_path / "out.zarr")])
    with pytest.raises(SystemExit):
        args.func(args)
    settings = seen["settings"]
    assert seen["plan"] == plan
    assert (settings.method, settings.null) == (DEFAULT_METHODS[plan], DEFAULT_NULLS[plan])
    assert settings.reference == Settings(method=settings.method).validate().reference


def test_run_execution_and_motif_defaults():
    import dfimx.run
    from dfimx.attribution.backprop import integrated_gradients

    helps = _helps("run")
    signature = inspect.signature(dfimx.run.run_dfim).parameters
    for flag, name in (("--batch-size", "batch_size"),
                       ("--p-value-threshold", "p_value_threshold"),
                       ("--max-motif-elements", "max_motif_elements")):
        assert float(_default_in(helps[flag])) == signature[name].default, flag
    steps = inspect.signature(integrated_gradients).parameters["steps"].default
    assert _default_in(helps["--steps"]) == str(steps)


@pytest.mark.parametrize("command", ["run", "scan-variants"])
def test_choices_are_listed(command):
    helps = _helps(command)
    for flag, choices in (("--reference", REFERENCES), ("--mutation", MUTATION_MODES),
                          ("--score", REDUCTIONS), ("--null", NULL_KINDS),
                          ("--pvalue", PVALUE_KINDS), ("--null-level", NULL_LEVELS)):
        for choice in choices:
            assert re.search(rf"\b{re.escape(choice)}\b", helps[flag]), (flag, choice)
    for method in METHODS:
        assert method.split(":")[0] in helps["--method"]


@pytest.mark.parametrize("command", ["run", "scan-variants", "export", "report", "check",
                                     "demo"])
def test_every_option_has_help_and_every_command_examples(command):
    sub = _subparser(command)
    missing = [a.option_strings or a.dest for a in sub._actions
               if a.help is None and a.dest != "help"]
    assert missing == []
    assert "examples:" in (sub.epilog or "") and f"dfimx {command}" in sub.epilog
