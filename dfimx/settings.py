"""Settings: every choice that changes the numbers of a run, and the one source of defaults.

The fields of :class:`Settings` are stored, under the same names, in every result's
attrs (``dfimx_settings`` holds them all as JSON), so that a store says how it was made.

Examples
--------
>>> Settings().validate().method, Settings().validate().reference
('deepshap', 'dinuc')
>>> with_plan_defaults(Settings(), "scan").method, with_plan_defaults(Settings(), "scan").null
('deeplift', 'dinuc')
>>> Settings(null_draws=0).validate()
Traceback (most recent call last):
...
dfimx.errors.InputError: null_draws must be at least 1 (or null='none')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfimx.alphabet import DEFAULT_GC
from dfimx.errors import InputError
from dfimx.mutants import MUTATION_MODES

#: Null distributions: distance-matched decoy sources in the real sequence (context, see
#: :mod:`dfimx.dfim.context`), dinucleotide- or mononucleotide-shuffled sequences, or none.
NULL_KINDS = ("context", "dinuc", "shuffle", "none")
#: Reductions of a delta profile over a target (:mod:`dfimx.dfim.maps`).
REDUCTIONS: tuple[str, ...] = ("sum", "abs_sum", "max_abs")
#: How a score is compared with its null (:mod:`dfimx.stats.pvalues`).
PVALUE_KINDS: tuple[str, ...] = ("empirical", "gaussian")
#: Pools of null scores a p-value is computed against (named levels, see
#: :mod:`dfimx.stats.pvalues`).
NULL_LEVELS: tuple[str, ...] = ("global", "task", "map", "distance", "element", "target")
#: Pooling level used when none is given: the context null pools its (already distance
#: matched) decoy scores by distance bin across sequences, which keeps enough null draws
#: per pool for BH at 8 draws (``target``, per target name and bin, needs many more: see
#: the README); the shuffled nulls pool globally.
DEFAULT_NULL_LEVELS: dict[str, str] = {"context": "distance"}


def null_level_for(null: str, level: str | None) -> str:
    """The pooling level of a run: ``level``, or the null kind's default.

    Examples
    --------
    >>> null_level_for("context", None), null_level_for("dinuc", None)
    ('distance', 'global')
    >>> null_level_for("context", "map")
    'map'
    """
    return level if level is not None else DEFAULT_NULL_LEVELS.get(null, "global")


#: The null used when none is given, by plan (``ds.attrs["plan"]``), as measured on the
#: simulations (README, "Defaults"): the context null for element plans; the
#: dinucleotide shuffle for per-base scans and variant scans, where single-base decoys
#: near a motif move it as much as a real variant does and the context null lost the power
#: to call motif-breaking variants.  Without a plan: ``context``.
DEFAULT_NULLS = {"elements": "context", "mut_dict": "context", "scan": "dinuc",
                 "variants": "dinuc"}
#: The attribution method used when none is given, by plan, as measured on the simulations
#: (README, "Defaults"): DeepSHAP for element plans and variant scans, where DeepLIFT's
#: rescale rule with one GC reference under-credits the second input of a ReLU "AND" unit
#: and gives the context null a tail of artefacts (on the trained classifier 0.845 of true
#: tests at q < 0.05 against 0.935-0.95 with DeepSHAP); DeepLIFT for per-base scans (one
#: attribution pass per mutant, the dinucleotide null).  Without a plan: ``elements``.
DEFAULT_METHODS = {"elements": "deepshap", "mut_dict": "deepshap", "scan": "deeplift",
                   "variants": "deepshap"}
#: The plan whose defaults a run without a plan (a bare :class:`Settings`) gets.
PLANLESS_DEFAULTS = "elements"
#: Reference used when none is given: DeepLIFT with a GC background separated the true
#: motif pair most robustly across trained models (see the README), DeepSHAP averages
#: over dinucleotide shuffles by definition.
DEFAULT_REFERENCES = {"deeplift": "gc", "deepshap": "dinuc"}
#: Where variant scans differ from :class:`Settings`: a single-base source moves a
#: piecewise-linear model too little for local methods, so DeepSHAP is the default (on the
#: simulated genome it found 95% of motif-breaking variants' partners against 63% for
#: DeepLIFT, see the README), and p-values pool the null by source-target distance.
VARIANT_DEFAULTS = {"method": DEFAULT_METHODS["variants"], "null": DEFAULT_NULLS["variants"],
                    "null_level": "distance"}
#: Rows per model call; variants per Dask task of a variant scan; motif-hit threshold.
DEFAULT_BATCH_SIZE = 256
DEFAULT_VARIANT_CHUNK = 64
DEFAULT_P_VALUE_THRESHOLD = 1e-4
#: Motif hits kept per sequence of ``run --motifs`` (the most significant), and the
#: largest numbers of motif targets and of other variant sites (in cis) per variant window.
DEFAULT_MAX_MOTIF_ELEMENTS = 16
DEFAULT_MAX_MOTIF_TARGETS = 16
DEFAULT_MAX_CIS_VARIANTS = 16
#: Simulated sequences and local workers of ``dfimx demo`` (``auto``: in this process
#: unless the run is large enough to pay for worker processes, see :func:`dfimx.run.local_workers`).
DEMO_N = 240
DEMO_WORKERS = "auto"


@dataclass(frozen=True)
class Settings:
    """Every choice that changes the numbers of a run (stored in the store's attrs).

    Parameters
    ----------
    method
        Attribution method (a key of :data:`dfimx.attribution.METHODS`); None: the plan's
        default (:data:`DEFAULT_METHODS`, ``deepshap`` without a plan).
    reference
        Attribution reference (``zeros``, ``gc``, ``dinuc``); None picks the method's
        default (:data:`DEFAULT_REFERENCES`).
    n_references
        Shuffled references per sequence for ``dinuc``.
    mutation, n_shuffles, gc
        How a source element is replaced (``zeros``, ``gc``, ``shuffle`` with
        ``n_shuffles`` draws averaged) and the GC fraction of GC backgrounds.
    score
        Reduction of the delta profile over a target (``sum``, ``abs_sum``, ``max_abs``).
    null, null_draws, pvalue, null_level
        Null kind (None: the plan's default, :data:`DEFAULT_NULLS`, ``context`` without
        a plan) and draws, p-value kind and pooling level (None: the null's default,
        ``distance`` for ``context``, ``global`` for the shuffled nulls).
    seed
        Seed of every random draw (with the sequence id: chunking never changes results).
    keep_delta, keep_importance, keep_null
        Store the large optional variables too.
    null_keep_sources
        Keep the source bases in place in null shuffles (variant scans).
    method_options
        Extra options of the attribution method, as ``(name, value)`` pairs.

    Examples
    --------
    >>> Settings(method="deeplift").validate().reference
    'gc'
    """

    method: str | None = None
    reference: str | None = None
    n_references: int = 10
    mutation: str = "gc"
    n_shuffles: int = 5
    gc: float = DEFAULT_GC
    score: str = "sum"
    null: str | None = None
    null_draws: int = 8
    pvalue: str = "empirical"
    null_level: str | None = None
    seed: int = 0
    keep_delta: bool = False
    keep_importance: bool = False
    keep_null: bool = False
    null_keep_sources: bool = False
    method_options: tuple[tuple[str, Any], ...] = ()

    def validate(self) -> Settings:
        """Check every field; returns the settings with the method's default reference."""
        # the registries load here, not with this module: the command line's --help and
        # argument checks import it, and need neither the methods nor the statistics
        from dfimx.attribution import METHODS, REFERENCES

        if self.method is None or self.null is None:  # a run without a plan
            return with_plan_defaults(self, PLANLESS_DEFAULTS)
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise InputError(f"method: unknown method {self.method!r}; choose one of "
                             f"{sorted(METHODS)}", option="method")
        if self.reference is None:
            default = DEFAULT_REFERENCES.get(self.method)
            default = default or METHODS[self.method].default_reference or "zeros"
            return dataclasses.replace(self, reference=default).validate()
        if self.null_level is None and isinstance(self.null, str):
            return dataclasses.replace(self, null_level=null_level_for(self.null, None)
                                       ).validate()
        _choice("reference", self.reference, REFERENCES)
        _choice("mutation", self.mutation, MUTATION_MODES)
        _choice("score", self.score, REDUCTIONS)
        _choice("null", self.null, NULL_KINDS)
        _choice("pvalue", self.pvalue, PVALUE_KINDS)
        _choice("null_level", self.null_level, NULL_LEVELS)
        for name in _INTEGERS:
            _integer(name, getattr(self, name))
        for name in _BOOLEANS:
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"{name} must be true or false, got {getattr(self, name)!r}",
                                 option=name)
        if self.null != "none" and self.null_draws < 1:
            raise InputError("null_draws must be at least 1 (or null='none')",
                             option="null_draws")
        at_least_one("n_references", self.n_references)
        at_least_one("n_shuffles", self.n_shuffles)
        if isinstance(self.gc, bool) or not isinstance(self.gc, (int, float, np.number)):
            raise InputError(f"gc must be a number, got {self.gc!r}", option="gc")
        if not 0.0 <= self.gc <= 1.0:
            raise InputError("gc must lie between 0 and 1", option="gc")
        options = dict(self.method_options)
        if "steps" in options:
            at_least_one("steps", options["steps"])
        return self

    def as_attrs(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (what ``dfimx_settings`` stores)."""
        out = dataclasses.asdict(self)
        out["method_options"] = dict(self.method_options)
        return out


def with_plan_defaults(settings: Settings, plan: str | None) -> Settings:
    """``settings`` validated, with the plan's default method and null where none is set.

    ``plan`` is a plan name (``ds.attrs["plan"]``: ``elements``, ``mut_dict``, ``scan``,
    ``variants``); None or an unknown name gets the defaults of element plans.

    Examples
    --------
    >>> s = with_plan_defaults(Settings(), "scan")
    >>> s.method, s.reference, s.null, s.null_level
    ('deeplift', 'gc', 'dinuc', 'global')
    >>> s = with_plan_defaults(Settings(method="gradient"), "elements")
    >>> s.method, s.null
    ('gradient', 'context')
    """
    known = plan if plan in DEFAULT_METHODS else PLANLESS_DEFAULTS
    if settings.method is None:
        settings = dataclasses.replace(settings, method=DEFAULT_METHODS[known])
    if settings.null is None:
        settings = dataclasses.replace(settings, null=DEFAULT_NULLS[known])
    return settings.validate()


#: Fields that hold whole numbers, and fields that hold true/false.
_INTEGERS = ("n_references", "n_shuffles", "null_draws", "seed")
_BOOLEANS = ("keep_delta", "keep_importance", "keep_null", "null_keep_sources")


def _integer(option: str, value: Any) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{option} must be a whole number, got {value!r}", option=option)


def at_least_one(option: str, value: Any) -> None:
    """Raise :class:`InputError` (``option=option``) unless ``value`` is a whole number >= 1.

    Examples
    --------
    >>> at_least_one("batch_size", 4)
    >>> at_least_one("chunk_size", -5)
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: chunk_size must be at least 1, got -5
    >>> at_least_one("steps", 2.5)
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: steps must be a whole number, got 2.5
    """
    _integer(option, value)
    if value < 1:
        raise InputError(f"{option} must be at least 1, got {value}", option=option)


def check_execution(
    *, chunk_size: int | None = None, batch_size: int | None = None,
    workers: int | str | None = None,
) -> None:
    """Check the run-level choices that do not change the numbers (None: not given).

    ``chunk_size`` (sequences per task and region) and ``batch_size`` (rows per model
    call) must be at least 1, ``workers`` (local worker processes; 0 runs in this process)
    at least 0, or ``"auto"`` (see :func:`dfimx.run.local_workers`).

    Examples
    --------
    >>> check_execution(chunk_size=64, batch_size=256)
    >>> check_execution(batch_size=0)
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: batch_size must be at least 1, got 0
    """
    for option, value in (("chunk_size", chunk_size), ("batch_size", batch_size)):
        if value is not None:
            at_least_one(option, value)
    if workers is not None and workers != "auto":
        _integer("workers", workers)
        if workers < 0:
            raise InputError(f"workers must be at least 0, got {workers}", option="workers")


def _choice(option: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{option}: unknown value {value!r}; choose one of {list(choices)}",
                         option=option)


__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_MAX_CIS_VARIANTS", "DEFAULT_MAX_MOTIF_ELEMENTS",
           "DEFAULT_MAX_MOTIF_TARGETS", "DEFAULT_NULLS", "DEFAULT_P_VALUE_THRESHOLD",
           "DEFAULT_REFERENCES", "DEFAULT_VARIANT_CHUNK", "DEMO_N", "DEMO_WORKERS",
           "DEFAULT_NULL_LEVELS", "NULL_KINDS", "NULL_LEVELS", "PVALUE_KINDS", "REDUCTIONS",
           "Settings", "null_level_for", "VARIANT_DEFAULTS", "DEFAULT_METHODS",
           "PLANLESS_DEFAULTS", "with_plan_defaults",
           "at_least_one", "check_execution"]
