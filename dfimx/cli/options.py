"""What the subcommands share: the common options, ``--config`` files, and turning library
errors into command-line messages.

Examples
--------
>>> flag_message(InputError("null_draws must be at least 1", option="null_draws"))
'--null-draws must be at least 1'
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from dfimx.errors import InputError
from dfimx.settings import Settings

#: Exit status of a run refused for bad input.
EXIT_INPUT_ERROR = 2
#: Settings whose flag is not the setting's name with dashes.
FLAGS = {"tasks": "--task", "safe_mode": "--unsafe-model"}


def flag(option: str) -> str:
    """The command-line flag of a setting: ``null_draws`` -> ``--null-draws``."""
    return FLAGS.get(option, "--" + option.replace("_", "-"))


_SETTING_VALUE = re.compile(r"\b([a-z][a-z_]*)=(?:'([^']*)'|([^\s,;)]+))")


def flag_message(exc: InputError, options: Collection[str] = ()) -> str:
    """The message of ``exc`` as the command line shows it: settings named by their flags.

    A message that starts with the setting named by ``exc.option`` starts with its flag
    instead, and a hint ``name=value`` for one of ``options`` reads ``--name value``.

    Examples
    --------
    >>> flag_message(InputError("x.zarr: incomplete; rerun with resume=True"), {"resume"})
    'x.zarr: incomplete; rerun with --resume'
    >>> flag_message(InputError("bad REF (on_ref_mismatch='skip' skips it)"),
    ...              {"on_ref_mismatch"})
    'bad REF (--on-ref-mismatch skip skips it)'
    """
    text = str(exc)
    if exc.option and text.startswith(exc.option):
        text = flag(exc.option) + text[len(exc.option):]

    def as_flag(match: re.Match) -> str:
        name, value = match.group(1), match.group(2) if match.group(2) is not None \
            else match.group(3)
        if name not in options:
            return match.group(0)
        return flag(name) if value == "True" else f"{flag(name)} {value}"

    return _SETTING_VALUE.sub(as_flag, text)


def common_options(p: argparse.ArgumentParser) -> None:
    """Add the options shared by ``run`` and ``scan-variants`` (method, null, model, execution)."""
    d = Settings()
    g = p.add_argument_group("method")
    g.add_argument("--method", default=None, help=f"attribution method (default {d.method})")
    g.add_argument("--reference", default=None,
                   help="zeros, gc or dinuc (default: gc for deeplift, dinuc for deepshap, "
                   "zeros otherwise)")
    g.add_argument("--n-references", type=int, default=None,
                   help=f"references per sequence for dinuc/deepshap (default {d.n_references})")
    g.add_argument("--mutation", default=None,
                   help="element replacement: gc, zeros or shuffle (default gc, the GC "
                        "background that is also DeepLIFT's default reference)")
    g.add_argument("--n-shuffles", type=int, default=None,
                   help=f"shuffles per element in --mutation shuffle (default {d.n_shuffles})")
    g.add_argument("--gc", type=float, default=None,
                   help=f"GC fraction of gc backgrounds ({d.gc})")
    g.add_argument("--score", default=None, help="sum, abs_sum or max_abs (default sum)")
    g.add_argument("--steps", type=int, default=None, help="integrated-gradients steps")
    g = p.add_argument_group("null model")
    g.add_argument("--null", default=None, help="dinuc, shuffle or none (default dinuc)")
    g.add_argument("--null-draws", type=int, default=None,
                   help=f"shuffled copies per sequence (default {d.null_draws})")
    g.add_argument("--pvalue", default=None, help="empirical or gaussian (default empirical)")
    g.add_argument("--null-level", default=None,
                   help="global, task, map or distance (default global)")
    g.add_argument("--keep-null", action="store_true", default=None,
                   help="store null_interaction_score")
    g = p.add_argument_group("model")
    g.add_argument("--task", action="append", default=None,
                   help="task name or index to score (repeatable; default all)")
    g.add_argument("--output-layer", default=None, choices=["logit", "output"],
                   help="score the pre-activation logit (default) or the output")
    g.add_argument("--unsafe-model", action="store_true", default=None,
                   help="load Keras models with safe_mode=False (only for trusted files)")
    g = p.add_argument_group("execution")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--chunk-size", type=int, default=None,
                   help="sequences per task and Zarr region (default: from the plan, <= 512)")
    g.add_argument("--batch-size", type=int, default=None, help="model batch size (256)")
    g.add_argument("--workers", type=int, default=None, help="local worker processes")
    g.add_argument("--scheduler", default=None, help="connect to tcp://HOST:PORT")
    g.add_argument("--resume", action="store_true", default=None,
                   help="finish an interrupted store")
    g.add_argument("--keep-delta", action="store_true", default=None, help="store delta")
    g.add_argument("--keep-importance", action="store_true", default=None,
                   help="store seq_importance")
    g.add_argument("--no-progress", action="store_true", default=None)
    g.add_argument("--config", default=None, help="YAML file with the same options")


_SETTING_KEYS = {
    "method": "method", "reference": "reference", "n_references": "n_references",
    "mutation": "mutation", "n_shuffles": "n_shuffles", "gc": "gc", "score": "score",
    "null": "null", "null_draws": "null_draws", "pvalue": "pvalue", "null_level": "null_level",
    "seed": "seed", "keep_delta": "keep_delta", "keep_importance": "keep_importance",
    "keep_null": "keep_null",
}


def merge_config(args: argparse.Namespace) -> dict[str, Any]:
    """Options from --config, overridden by those given on the command line."""
    opts: dict[str, Any] = {}
    if getattr(args, "config", None):
        path = args.config
        if not Path(path).is_file():
            raise InputError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: invalid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: expected a mapping of option: value")
        known = set(vars(args))
        for key, value in loaded.items():
            k = str(key).replace("-", "_")
            if k not in known or k in ("command", "func", "config"):
                raise InputError(f"{path}: unknown option {key!r}")
            opts[k] = value
        opts["config_file"] = path
    for k, v in vars(args).items():
        if v is not None and k not in ("func", "config"):
            opts[k] = v
    return opts


def settings_from(opts: dict[str, Any]) -> Settings:
    """The validated :class:`Settings` of merged options."""
    kwargs = {v: opts[k] for k, v in _SETTING_KEYS.items() if opts.get(k) is not None}
    if opts.get("steps"):
        kwargs["method_options"] = (("steps", int(opts["steps"])),)
    return Settings(**kwargs).validate()


def config_attrs(opts: dict[str, Any]) -> dict[str, Any]:
    """The options worth recording in the store's ``config`` attr."""
    return {k: v for k, v in opts.items() if isinstance(v, (str, int, float, bool, list))}


def command_line() -> str:
    """The command line of this process, quoted, for provenance."""
    return "dfimx " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def require_options(opts: dict[str, Any], command: str, names: tuple[str, ...]) -> None:
    """Raise :class:`InputError` for the first of ``names`` missing from ``opts``."""
    for need in names:
        if not opts.get(need):
            raise InputError(f"{command}: {flag(need)} is required (on the command line or in "
                             "--config)")
