"""What the subcommands share: the common options, ``--config`` files, and turning library
errors into command-line messages.

Examples
--------
>>> flag_message(InputError("null_draws must be at least 1", option="null_draws"))
'--null-draws must be at least 1'
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from dfimx.errors import InputError
from dfimx.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_METHODS,
    DEFAULT_NULL_LEVELS,
    DEFAULT_NULLS,
    NULL_KINDS,
    NULL_LEVELS,
    PVALUE_KINDS,
    REDUCTIONS,
    Settings,
    check_execution,
)

#: Exit status of a run refused for bad input.
EXIT_INPUT_ERROR = 2
#: Settings whose flag is not the setting's name with dashes.
FLAGS = {"tasks": "--task", "safe_mode": "--unsafe-model"}
#: Hints ``name=value`` that the command line gives by another flag: the option it sets
#: and the flag (``safe_mode=False`` is ``--unsafe-model``).
INVERTED_FLAGS = {("safe_mode", "False"): ("unsafe_model", "--unsafe-model")}


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
    >>> flag_message(InputError("m.keras: pass safe_mode=False if trusted"), {"unsafe_model"})
    'm.keras: pass --unsafe-model if trusted'
    """
    text = str(exc)
    if exc.option and text.startswith(exc.option):
        text = flag(exc.option) + text[len(exc.option):]

    def as_flag(match: re.Match) -> str:
        name, value = match.group(1), match.group(2) if match.group(2) is not None \
            else match.group(3)
        inverted = INVERTED_FLAGS.get((name, value))
        if inverted is not None and inverted[0] in options:
            return inverted[1]
        if name not in options:
            return match.group(0)
        return flag(name) if value == "True" else f"{flag(name)} {value}"

    return _SETTING_VALUE.sub(as_flag, text)


def workers_value(text: str) -> int | str:
    """``--workers``: a whole number, or ``auto`` (in this process unless the run is large).

    Examples
    --------
    >>> workers_value("2"), workers_value("auto")
    (2, 'auto')
    """
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'auto', got {text!r}"
                                         ) from None


def choices_text(choices: Collection[str]) -> str:
    """The choices of an option as its help lists them: ``a, b or c``.

    Examples
    --------
    >>> choices_text(("sum", "abs_sum", "max_abs"))
    'sum, abs_sum or max_abs'
    """
    items = [str(c) for c in choices]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def reference_defaults(defaults: Settings) -> str:
    """The default ``--reference`` per method, as the help states it (from :class:`Settings`).

    Examples
    --------
    >>> reference_defaults(Settings())
    'gc for deeplift, dinuc for deepshap, zeros otherwise'
    """
    from dfimx.attribution import METHODS  # the method registry, as Settings reads it

    refs = {m: dataclasses.replace(defaults, method=m, reference=None).validate().reference
            for m in METHODS}
    common = max(sorted(set(refs.values())), key=list(refs.values()).count)
    named = [f"{ref} for {m}" for m, ref in refs.items() if ref != common]
    return ", ".join(named + [f"{common} otherwise"])


def method_defaults() -> str:
    """The default ``--method`` per plan, as the help states it (:data:`DEFAULT_METHODS`).

    Examples
    --------
    >>> method_defaults()
    'deepshap for elements and mut_dict plans, deeplift for scan plans'
    """
    return plan_defaults_text({p: m for p, m in DEFAULT_METHODS.items() if p != "variants"})


def plan_defaults_text(by_plan: dict[str, str]) -> str:
    """``{plan: value}`` as help text, plans with the same value together.

    Examples
    --------
    >>> plan_defaults_text({"elements": "a", "scan": "b", "mut_dict": "a"})
    'a for elements and mut_dict plans, b for scan plans'
    """
    by_value: dict[str, list[str]] = {}
    for plan, value in by_plan.items():
        by_value.setdefault(value, []).append(plan)
    return ", ".join(f"{value} for {' and '.join(plans)} plans"
                     for value, plans in by_value.items())


def null_defaults() -> str:
    """The default ``--null`` per plan, as the help states it (:data:`DEFAULT_NULLS`).

    Examples
    --------
    >>> null_defaults()
    'context for elements and mut_dict plans, dinuc for scan and variants plans'
    """
    return plan_defaults_text(DEFAULT_NULLS)


def level_defaults(levels: dict[str, str]) -> str:
    """The default ``--null-level`` per null, as the help states it.

    Examples
    --------
    >>> level_defaults({"context": "distance"})
    'distance for the context null, global otherwise'
    """
    named = [f"{level} for the {null} null" for null, level in levels.items()]
    return ", ".join(named + ["global otherwise"])


def common_options(p: argparse.ArgumentParser, defaults: dict[str, Any] | None = None, *,
                   chunk_help: str = "sequences per task and Zarr region (default: from the "
                   "plan, <= 512)") -> None:
    """Add the options shared by ``run`` and ``scan-variants`` (method, null, model, execution).

    The help states the defaults of :class:`Settings` with ``defaults`` (the fields a
    command sets otherwise, e.g. :data:`dfimx.settings.VARIANT_DEFAULTS`) applied, and the
    choices of each option from the registries the settings are checked against.
    """
    from dfimx.attribution import METHODS, REFERENCES  # the registries Settings checks
    from dfimx.mutants import MUTATION_MODES  # idem

    d = dataclasses.replace(Settings(), **(defaults or {}))
    methods = [m for m in METHODS if not m.startswith("deeplift-package:")]
    g = p.add_argument_group("method")
    g.add_argument("--method", default=None, metavar="NAME",
                   help=f"attribution method: {choices_text(methods)}, or "
                   f"deeplift-package:MODE for the deeplift package (default "
                   f"{d.method or method_defaults()})")
    g.add_argument("--reference", default=None, metavar="KIND",
                   help=f"attribution reference: {choices_text(REFERENCES)} (default: "
                   f"{reference_defaults(d)})")
    g.add_argument("--n-references", type=int, default=None, metavar="K",
                   help=f"shuffled references per sequence for dinuc (default {d.n_references})")
    g.add_argument("--mutation", default=None, metavar="KIND",
                   help=f"how a source element is replaced: {choices_text(MUTATION_MODES)} "
                   f"(default {d.mutation}; gc is a GC background, also DeepLIFT's default "
                   "reference)")
    g.add_argument("--n-shuffles", type=int, default=None, metavar="K",
                   help=f"shuffles per element averaged with --mutation shuffle (default "
                   f"{d.n_shuffles})")
    g.add_argument("--gc", type=float, default=None, metavar="FRACTION",
                   help=f"GC fraction of gc backgrounds (default {d.gc})")
    g.add_argument("--score", default=None, metavar="REDUCTION",
                   help=f"reduction of the delta profile over a target: "
                   f"{choices_text(REDUCTIONS)} (default {d.score})")
    g.add_argument("--steps", type=int, default=None, metavar="K",
                   help=f"integrated_gradients steps (default {IG_STEPS})")
    g = p.add_argument_group("null model")
    g.add_argument("--null", default=None, metavar="KIND",
                   help=f"null: {choices_text(NULL_KINDS)} (default {d.null or null_defaults()})")
    g.add_argument("--null-draws", type=int, default=None, metavar="K",
                   help=f"shuffled copies per sequence (default {d.null_draws})")
    g.add_argument("--pvalue", default=None, metavar="KIND",
                   help=f"p-values: {choices_text(PVALUE_KINDS)} (default {d.pvalue})")
    g.add_argument("--null-level", default=None, metavar="LEVEL",
                   help=f"null scores pooled per: {choices_text(NULL_LEVELS)} "
                   f"(default {d.null_level or level_defaults(DEFAULT_NULL_LEVELS)})")
    g.add_argument("--keep-null", action="store_true", default=None,
                   help="store null_interaction_score (default: removed once p-values exist)")
    g = p.add_argument_group("model")
    g.add_argument("--task", action="append", default=None, metavar="NAME|INDEX",
                   help="task name or index to score (repeatable; default all)")
    g.add_argument("--output-layer", default=None, choices=["logit", "output"],
                   help="score the pre-activation logit (default) or the output")
    g.add_argument("--unsafe-model", action="store_true", default=None,
                   help="load Keras models with safe_mode=False (only for trusted files)")
    g.add_argument("--custom-objects", default=None, metavar="MODULE.py",
                   help="import this Python file for the model's custom layers (trusted "
                   "code: it runs)")
    g = p.add_argument_group("execution")
    g.add_argument("--seed", type=int, default=None,
                   help=f"seed of every random draw (default {d.seed})")
    g.add_argument("--chunk-size", type=int, default=None, metavar="N", help=chunk_help)
    g.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help=f"model batch size (default {DEFAULT_BATCH_SIZE})")
    g.add_argument("--workers", type=workers_value, default=None, metavar="N|auto",
                   help="local worker processes (0: in this process; default auto: in this "
                   "process unless the run is large)")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="connect to a running Dask scheduler")
    g.add_argument("--resume", action="store_true", default=None,
                   help="finish an interrupted store")
    g.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an unfinished dfimx store (never one dfimx did not write)")
    g.add_argument("--keep-delta", action="store_true", default=None,
                   help="store delta (large: sources x positions x bases per sequence)")
    g.add_argument("--keep-importance", action="store_true", default=None,
                   help="store seq_importance")
    g.add_argument("--no-progress", action="store_true", default=None,
                   help="no progress bar")
    g.add_argument("--config", default=None, metavar="YAML",
                   help="YAML file with the same options (the command line overrides it)")
    # merge_config reads the type of each option from the parser that defined it
    p.set_defaults(option_parser=p)


#: Steps of integrated gradients when --steps is not given (the method's own default).
IG_STEPS = 32


_SETTING_KEYS = {
    "method": "method", "reference": "reference", "n_references": "n_references",
    "mutation": "mutation", "n_shuffles": "n_shuffles", "gc": "gc", "score": "score",
    "null": "null", "null_draws": "null_draws", "pvalue": "pvalue", "null_level": "null_level",
    "seed": "seed", "keep_delta": "keep_delta", "keep_importance": "keep_importance",
    "keep_null": "keep_null",
}


#: Options a ``--config`` file may not set: only the command line itself grants them.
COMMAND_LINE_ONLY = ("unsafe_model", "custom_objects")
#: Namespace entries that are not options.
_NOT_OPTIONS = ("command", "func", "config", "option_parser", "verbose")
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _spelling(key: Any) -> str:
    """A config key as a setting name however spelled: ``--Unsafe-Model`` -> ``unsafe_model``."""
    return re.sub(r"[\s-]+", "_", str(key).strip().lstrip("-").lower())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def config_value(path: str, key: str, value: Any, action: argparse.Action | None) -> Any:
    """``value`` of ``key`` in the config file ``path``, checked against the option's type.

    Booleans must be YAML booleans (``true``/``false``, ``yes``/``no``); whole-number
    options take integers, real-number options numbers (``1e-4`` too); text options take
    strings; ``task`` takes one task or a list.  Anything else is an :class:`InputError`
    naming the file and the key.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> common_options(parser)
    >>> actions = {a.dest: a for a in parser._actions}
    >>> config_value("run.yaml", "task", "AandB", actions["task"])
    ['AandB']
    >>> config_value("run.yaml", "keep_delta", "false", actions["keep_delta"])
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: run.yaml: keep_delta: expected true or false, got 'false'
    """
    where = f"{path}: {key}"
    if action is None:
        return value
    if action.nargs == 0:  # store_true
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(action, argparse._AppendAction):  # --task, repeatable
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise InputError(f"{where}: expected a name or index (or a list of them), "
                                 f"got {item!r}")
        return [str(item) for item in items]
    if action.type is workers_value and value == "auto":
        return value
    if action.type in (int, workers_value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"{where}: expected a whole number, got {value!r}")
    elif action.type is float:
        if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 (no dot) as text
        if not _is_number(value):
            raise InputError(f"{where}: expected a number, got {value!r}")
        value = float(value)
    elif not isinstance(value, str):
        hint = " (quote it: YAML read it as a number)" if _is_number(value) else ""
        raise InputError(f"{where}: expected text, got {value!r}{hint}")
    if action.choices is not None and value not in action.choices:
        raise InputError(f"{where}: unknown value {value!r}; choose one of "
                         f"{list(action.choices)}")
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice (YAML would keep the last silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen = []
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep)


def read_config(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """The options of the ``--config`` file ``path``, typed like the flags of ``args``.

    Raises
    ------
    InputError
        When the file is missing or not YAML, a key is unknown or sets an option only
        the command line may set (:data:`COMMAND_LINE_ONLY`), or a value has the wrong type.
    """
    if not Path(path).is_file():
        raise InputError(f"{path}: config file not found")
    try:
        loaded = yaml.load(Path(path).read_text(), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the config file: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InputError(f"{path}: expected a mapping of option: value")
    parser = getattr(args, "option_parser", None)
    actions = {a.dest: a for a in parser._actions} if parser is not None else {}
    known = set(vars(args)) - set(_NOT_OPTIONS)
    opts: dict[str, Any] = {}
    spelled: dict[str, Any] = {}
    for key, value in loaded.items():
        key = "null" if key is None else key  # YAML reads the bare key `null` as no name
        if _spelling(key) in COMMAND_LINE_ONLY:
            raise InputError(f"{path}: {key!r}: {_spelling(key)} can only be given on the "
                             f"command line ({flag(_spelling(key))}), not in a config file")
        k = str(key).replace("-", "_")
        if k not in known:
            raise InputError(f"{path}: unknown option {key!r}")
        if k in spelled:
            raise InputError(f"{path}: option {k!r} is given twice (as {spelled[k]!r} and "
                             f"{key!r})")
        spelled[k] = key
        if value is not None:  # `key:` with no value: the default
            opts[k] = config_value(path, str(key), value, actions.get(k))
    return opts


def merge_config(args: argparse.Namespace) -> dict[str, Any]:
    """Options from --config, overridden by those given on the command line."""
    opts: dict[str, Any] = {}
    if getattr(args, "config", None):
        opts.update(read_config(args.config, args))
        opts["config_file"] = args.config
    for k, v in vars(args).items():
        if v is not None and k not in _NOT_OPTIONS:
            opts[k] = v
    return opts


def settings_from(opts: dict[str, Any]) -> Settings:
    """The validated :class:`Settings` of merged options."""
    check_execution(chunk_size=opts.get("chunk_size"), batch_size=opts.get("batch_size"),
                    workers=opts.get("workers"))
    kwargs = {v: opts[k] for k, v in _SETTING_KEYS.items() if opts.get(k) is not None}
    if opts.get("steps") is not None:
        kwargs["method_options"] = (("steps", opts["steps"]),)
    settings = Settings(**kwargs)
    settings.validate()  # every option checked now; the method and null the plan sets later
    if "steps" in dict(settings.method_options) and settings.method != "integrated_gradients":
        raise InputError(f"steps applies only to method 'integrated_gradients', not "
                         f"{settings.method or 'the default method'!r}", option="steps")
    return settings


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
