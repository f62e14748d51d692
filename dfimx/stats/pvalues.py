"""p-values of interaction scores against pooled null scores: array kernels and Dask graph.

Null scores are pooled globally, per task, per map (sequence and task), per bin of
distance between source and target, or by a combination of these factors; each pool is
summarized once (a :class:`~dfimx.stats.summaries.KeySummary` for empirical p-values, a
:class:`~dfimx.stats.summaries.MomentSummary` for Gaussian ones) with a tree reduction
over the sequence chunks, and every score chunk is compared with its pool's summary.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> null = rng.normal(size=999)
>>> p = empirical_p_values(np.array([0.0, 10.0]), null)
>>> float(p[1]) == 1 / 1000
True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import dask
import dask.array as da
import numpy as np
from scipy import special

from dfimx.errors import InputError
from dfimx.settings import NULL_LEVELS, PVALUE_KINDS
from dfimx.stats.summaries import KeySummary, MomentSummary, float_type, tree_reduce

__all__ = [
    "DEFAULT_DISTANCE_BINS",
    "NULL_LEVELS",
    "PVALUE_KINDS",
    "check_alternative",
    "check_distance_bins",
    "check_pvalue",
    "distance_between",
    "empirical_p_values",
    "gaussian_p_values",
    "normalize_level",
    "p_values_dask",
    "null_pool_ids",
    "pool_ids",
]

PValueMethod = Literal["empirical", "gaussian"]
Alternative = Literal["two-sided", "greater"]

#: Default edges (bases) of the distance bins of ``level="distance"``: 1-2-5 log-spaced;
#: bin ``i`` is ``[edges[i], edges[i+1])``, the last bin is open-ended.
DEFAULT_DISTANCE_BINS: tuple[int, ...] = (
    0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000,
)
#: Named pooling levels and the factors they pool by: ``element`` is one target element
#: (sequence and response slot) with its own null scores, ``target`` one target *name* and
#: distance bin across sequences (the default of the context null, :mod:`dfimx.dfim.context`).
_LEVELS: dict[str, tuple[str, ...]] = {
    "global": (),
    "task": ("task",),
    "map": ("seq", "task"),
    "distance": ("distance",),
    "element": ("seq", "response", "task"),
    "target": ("name", "task", "distance"),
}
assert tuple(_LEVELS) == NULL_LEVELS, "the pooling levels of dfimx.settings.NULL_LEVELS"
_FACTORS = ("seq", "response", "name", "task", "distance")


# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------


def normalize_level(level: str | Sequence[str]) -> tuple[str, ...]:
    """The pooling factors (in the order seq, task, distance) of a null level.

    Examples
    --------
    >>> normalize_level("map"), normalize_level(("distance", "task"))
    (('seq', 'task'), ('task', 'distance'))
    >>> normalize_level("target"), normalize_level(("response",))
    (('name', 'task', 'distance'), ('seq', 'response'))
    """
    if isinstance(level, str):
        if level in _LEVELS:
            return _LEVELS[level]
        names: Sequence[str] = (level,)
    else:
        names = level
    out: list[str] = []
    for name in names:
        name = {"map": "seq"}.get(name, name)
        if name not in _FACTORS:
            raise InputError(
                f"unknown null level {name!r}; choose one of {NULL_LEVELS} or a "
                f"combination of {_FACTORS}",
                option="null_level",
            )
        out.append(name)
    if "response" in out:  # a response slot is one element of one sequence
        out.append("seq")
    return tuple(f for f in _FACTORS if f in out)


def check_pvalue(pvalue: str) -> None:
    """Raise :class:`~dfimx.errors.InputError` unless ``pvalue`` is a p-value kind."""
    if pvalue not in PVALUE_KINDS:
        raise InputError(f"pvalue must be 'empirical' or 'gaussian', not {pvalue!r}",
                         option="pvalue")


def check_alternative(alternative: str) -> None:
    """Raise :class:`~dfimx.errors.InputError` unless ``alternative`` is known."""
    if alternative not in ("two-sided", "greater"):
        raise InputError(
            f"alternative must be 'two-sided' or 'greater', not {alternative!r}"
        )


def check_distance_bins(distance_bins: Sequence[int] | None) -> np.ndarray:
    """The distance bin edges as int64 (default :data:`DEFAULT_DISTANCE_BINS`), checked.

    Examples
    --------
    >>> check_distance_bins([0, 10, 100]).tolist()
    [0, 10, 100]
    """
    edges = np.asarray(
        DEFAULT_DISTANCE_BINS if distance_bins is None else distance_bins, dtype=np.int64
    )
    if edges.ndim != 1 or edges.size == 0 or np.any(np.diff(edges) <= 0):
        raise InputError("distance_bins must be a non-empty increasing sequence of edges")
    return edges


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------


def _statistic(x: np.ndarray, alternative: str) -> np.ndarray:
    return np.abs(x) if alternative == "two-sided" else x


def _empirical_from_summary(
    summary: KeySummary, x: np.ndarray, pools: np.ndarray, alternative: str
) -> np.ndarray:
    x = np.asarray(x)
    out = np.full(x.shape, np.nan, np.float64)
    ok = ~np.isnan(x)
    n_ge, n = summary.count_at_least(_statistic(x[ok], alternative), pools[ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.where(n > 0, (1.0 + n_ge) / (n + 1.0), np.nan)
    return out


def _gaussian_from_summary(
    summary: MomentSummary, x: np.ndarray, pools: np.ndarray, alternative: str
) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mean, sd = summary.mean[pools], summary.std()[pools]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - mean) / sd
        if alternative == "two-sided":
            p = 2.0 * special.ndtr(-np.abs(z))
        else:
            p = special.ndtr(-z)
    return np.minimum(p, 1.0)


def empirical_p_values(
    score: np.ndarray, null: np.ndarray, *, alternative: Alternative = "two-sided"
) -> np.ndarray:
    """Empirical p-values of ``score`` against one pool of ``null`` scores.

    ``p = (1 + #{null >= x}) / (n + 1)`` with ``n`` the number of non-NaN null scores;
    two-sided compares ``|x|`` with ``|null|``.

    Parameters
    ----------
    score
        Observed scores, any shape; NaN gives NaN.
    null
        Null scores (NaN ignored), any shape.
    alternative
        ``"two-sided"`` (on absolute values) or ``"greater"``.

    Returns
    -------
    float64 array of the shape of ``score``.

    Examples
    --------
    >>> import numpy as np
    >>> empirical_p_values(np.array([-3.0, 0.5]), np.array([1.0, -2.0, 4.0])).tolist()
    [0.5, 1.0]
    """
    check_alternative(alternative)
    score = np.asarray(score)
    null = np.asarray(null)
    ftype = float_type(np.result_type(score.dtype, null.dtype, np.float32))
    s = KeySummary.from_values(
        _statistic(null, alternative), np.zeros(null.size, np.int64), 1, ftype=ftype
    )
    return _empirical_from_summary(s, score, np.zeros(score.shape, np.int64), alternative)


def gaussian_p_values(
    score: np.ndarray, null: np.ndarray, *, alternative: Alternative = "two-sided"
) -> np.ndarray:
    """p-values of ``score`` under a Gaussian fitted to ``null`` (mean, ddof=1 sd).

    Two-sided: ``2 * sf(|x - mean| / sd)``; greater: ``sf((x - mean) / sd)``.

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_p_values(np.array([0.0, 1.96]), np.array([-1.0, 1.0]) * np.sqrt(0.5))
    >>> [round(float(v), 3) for v in p]
    [1.0, 0.05]
    """
    check_alternative(alternative)
    null = np.asarray(null)
    s = MomentSummary.from_values(null, np.zeros(null.size, np.int64), 1)
    score = np.asarray(score)
    return _gaussian_from_summary(s, score, np.zeros(score.shape, np.int64), alternative)


def distance_between(
    mutation_start: np.ndarray,
    mutation_end: np.ndarray,
    response_start: np.ndarray,
    response_end: np.ndarray,
) -> np.ndarray:
    """Gap in bases between each source and target interval, ``(seq, mutation, response)``.

    Half-open intervals; 0 for adjacent or overlapping intervals.

    Examples
    --------
    >>> import numpy as np
    >>> distance_between(np.array([[10]]), np.array([[15]]), np.array([[0, 20]]),
    ...                  np.array([[4, 22]])).tolist()
    [[[6, 5]]]
    """
    ms = np.asarray(mutation_start, np.int64)[:, :, None]
    me = np.asarray(mutation_end, np.int64)[:, :, None]
    rs = np.asarray(response_start, np.int64)[:, None, :]
    re = np.asarray(response_end, np.int64)[:, None, :]
    return np.maximum(np.maximum(rs - me, ms - re), 0)


#: Null values a block summary sorts at once (about 40 bytes of temporaries each).
SUMMARY_SLICE_VALUES = 1 << 22


def pool_ids(
    shape: tuple[int, ...],
    factors: tuple[str, ...],
    edges: np.ndarray,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
    names: np.ndarray | None = None,
    n_names: int = 1,
) -> tuple[np.ndarray, int]:
    """Pool index of each (seq, mutation, response, task) element of a block, #pools.

    ``names`` ``(seq, response)`` holds the target name codes ``0 .. n_names - 1`` (for
    the ``name`` factor).  Pools with ``seq`` are local to the block.

    Examples
    --------
    >>> pools, n = pool_ids((1, 1, 3, 1), ("name",), None, None, None, None, None,
    ...                     np.array([[0, 1, 0]]), 2)
    >>> pools.ravel().tolist(), n
    ([0, 1, 0], 2)
    """
    s, m, r, t = shape
    pools = np.zeros(shape, np.int64)
    n = 1
    if "seq" in factors:
        pools = pools * s + np.arange(s)[:, None, None, None]
        n *= s
    if "response" in factors:
        pools = pools * r + np.arange(r)[None, None, :, None]
        n *= r
    if "name" in factors:
        pools = pools * n_names + np.asarray(names, np.int64)[:, None, :, None]
        n *= n_names
    if "task" in factors:
        pools = pools * t + np.arange(t)[None, None, None, :]
        n *= t
    if "distance" in factors:
        gap = distance_between(ms, me, rs, re)
        b = np.clip(np.searchsorted(edges, gap, "right") - 1, 0, edges.size - 1)
        pools = pools * edges.size + b[:, :, :, None]
        n *= edges.size
    return np.broadcast_to(pools, shape), n


def null_pool_ids(
    shape: tuple[int, ...],
    factors: tuple[str, ...],
    edges: np.ndarray,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
    names: np.ndarray | None = None,
    n_names: int = 1,
    ds: np.ndarray | None = None,
    de: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Pool index of each null score ``(seq, mutation, response, task, null)`` of a block.

    As :func:`pool_ids`; with the null's own sources ``ds``, ``de`` ``(seq, mutation,
    null)`` (the decoys of the context null) the distance bin of a null score is that of
    its decoy to the target, so every decoy's score on every target joins the pool of its
    own distance.

    Examples
    --------
    >>> one = np.array([[0]])
    >>> pools, n = null_pool_ids((1, 1, 1, 1, 2), ("distance",), np.array([0, 10]), one,
    ...                          one + 1, np.array([[20]]), np.array([[21]]),
    ...                          ds=np.array([[[12, 0]]]), de=np.array([[[13, 1]]]))
    >>> pools.ravel().tolist(), n       # decoy gaps 7 and 19: bins 0 and 1
    ([0, 1], 2)
    """
    if ds is None or "distance" not in factors:
        pools, n = pool_ids(shape[:4], factors, edges, ms, me, rs, re, names, n_names)
        return np.broadcast_to(pools[..., None], shape), n
    rest = tuple(f for f in factors if f != "distance")
    pools, n = pool_ids(shape[:4], rest, edges, ms, me, rs, re, names, n_names)
    s, m, _, _, k = shape
    gap = distance_between(np.asarray(ds).reshape(s, m * k), np.asarray(de).reshape(s, m * k),
                           rs, re)  # (s, m * k, r)
    gap = np.moveaxis(gap.reshape(s, m, k, -1), 2, -1)  # (s, m, r, k)
    b = np.clip(np.searchsorted(edges, gap, "right") - 1, 0, edges.size - 1)
    out = pools[..., None] * edges.size + b[:, :, :, None, :]
    return np.broadcast_to(out, shape), n * edges.size


def _null_block_summary(
    null: np.ndarray,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
    names: np.ndarray | None = None,
    ds: np.ndarray | None = None,
    de: np.ndarray | None = None,
    *,
    method: str,
    factors: tuple[str, ...],
    edges: np.ndarray,
    alternative: str,
    ftype: type,
    limit: int | None,
    n_names: int = 1,
) -> KeySummary | MomentSummary:
    pools, n_pools = null_pool_ids(null.shape, factors, edges, ms, me, rs, re, names, n_names,
                                   ds, de)
    if method in _MOMENT_METHODS:
        return MomentSummary.from_values(null, pools, n_pools)
    # summarized a slice of sources at a time and merged as it goes: the temporaries stay
    # bounded by the slice and the summary's size limit, and the result is the summary of the
    # whole block (the merge is exact and its resolution the finest that fits, whatever the
    # split)
    step = max(1, SUMMARY_SLICE_VALUES // max(1, null[:, :1].size))
    summary = None
    for a in range(0, max(1, null.shape[1]), step):
        part = KeySummary.from_values(_statistic(null[:, a:a + step], alternative),
                                      pools[:, a:a + step], n_pools, ftype=ftype, limit=limit)
        summary = part if summary is None else KeySummary.merge([summary, part], limit)
    return summary


#: Methods that summarize a pool by its moments: Gaussian p-values and the effect size
#: (the score standardised by its pool's null mean and sd, ``(x - mean) / sd``).
_MOMENT_METHODS = ("gaussian", "effect")


def _p_value_block(
    score: np.ndarray,
    null: np.ndarray | None,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
    names: np.ndarray | None = None,
    ds: np.ndarray | None = None,
    de: np.ndarray | None = None,
    *,
    summary: KeySummary | MomentSummary | None,
    method: str,
    factors: tuple[str, ...],
    edges: np.ndarray,
    alternative: str,
    ftype: type,
    n_names: int = 1,
) -> np.ndarray:
    if summary is None:  # per-sequence pools: the block's own null, exact
        summary = _null_block_summary(
            null, ms, me, rs, re, names, ds, de, method=method, factors=factors, edges=edges,
            alternative=alternative, ftype=ftype, limit=None, n_names=n_names,
        )
    pools, _ = pool_ids(score.shape, factors, edges, ms, me, rs, re, names, n_names)
    if method == "effect":
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (np.asarray(score, np.float64) - summary.mean[pools]) / summary.std()[pools]
    elif method == "gaussian":
        p = _gaussian_from_summary(summary, score, pools, alternative)  # type: ignore[arg-type]
    else:
        p = _empirical_from_summary(summary, score, pools, alternative)  # type: ignore[arg-type]
    p[np.isnan(score)] = np.nan
    return p.astype(np.float32)


# --------------------------------------------------------------------------------------
# Dask graph on (seq, mutation, response, task[, null]) arrays
# --------------------------------------------------------------------------------------


def p_values_dask(
    score: da.Array,
    null: da.Array,
    coords: list[da.Array] | None,
    *,
    method: str,
    factors: tuple[str, ...],
    edges: np.ndarray,
    alternative: str,
    limit: int,
    names: da.Array | None = None,
    n_names: int = 1,
    null_sources: list[da.Array] | None = None,
) -> da.Array:
    """Lazy float32 p-values of ``score`` (seq, mutation, response, task) against ``null``.

    Parameters
    ----------
    score, null
        Dask arrays chunked over the first axis (seq) only; ``null`` has the draws last.
    coords
        ``[mutation_start, mutation_end, response_start, response_end]`` as Dask arrays
        (seq, mutation) / (seq, response) chunked like ``score``, when ``factors``
        include ``"distance"``; else None.
    method, alternative
        A kind of :data:`PVALUE_KINDS`, or ``"effect"`` for the effect size
        ``(score - mean) / sd`` of the score's pool; ``"two-sided"`` or ``"greater"``.
    factors, edges
        Pooling factors (:func:`normalize_level`) and distance bin edges.
    limit
        Size limit of the null summary (not used when ``factors`` include ``"seq"``).
    names, n_names
        Target name codes (seq, response), chunked like ``score``, and their number,
        when ``factors`` include ``"name"``.
    null_sources
        ``[start, end]`` (seq, mutation, null) of the null's own sources (the decoys of
        the context null), chunked like ``score``: null scores are then binned by their
        decoy's distance (see :func:`null_pool_ids`).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> rng = np.random.default_rng(0)
    >>> score = da.from_array(rng.normal(size=(4, 1, 1, 1)), chunks=(2, 1, 1, 1))
    >>> null = da.from_array(rng.normal(size=(4, 1, 1, 1, 9)), chunks=(2, 1, 1, 1, 9))
    >>> p = p_values_dask(score, null, None, method="empirical", factors=(), edges=None,
    ...                   alternative="two-sided", limit=100)
    >>> want = empirical_p_values(score.compute(), null.compute())
    >>> bool(np.allclose(p.compute(), want))
    True
    """
    ftype = float_type(np.result_type(score.dtype, null.dtype, np.float32))
    opts = dict(method=method, factors=factors, edges=edges, alternative=alternative,
                n_names=n_names)
    coord_args: list[Any] = []
    if coords is not None:
        for arr, ind in zip(coords, ("sm", "sm", "sr", "sr"), strict=True):
            coord_args += [arr, ind]
    else:
        coord_args = [None] * 8
    coord_args += [names, "sr"] if names is not None else [None, None]
    if null_sources is not None and "distance" in factors:
        for arr in null_sources:
            coord_args += [arr, "smk"]
    else:
        coord_args += [None, None, None, None]
    if "seq" in factors:
        return da.blockwise(
            _p_value_block, "smrt", score, "smrt", null, "smrtk", *coord_args,
            summary=None, ftype=ftype, dtype=np.float32, concatenate=True, **opts,
        )
    block_summary = functools.partial(_null_block_summary, ftype=ftype, limit=limit, **opts)
    null_blocks = null.to_delayed().ravel()
    coord_blocks = (
        [c.to_delayed().ravel() for c in coords] if coords is not None
        else [[None] * len(null_blocks)] * 4
    )
    coord_blocks.append(names.to_delayed().ravel() if names is not None
                        else [None] * len(null_blocks))
    for i in range(2):
        coord_blocks.append(null_sources[i].to_delayed().ravel()
                            if null_sources is not None and "distance" in factors
                            else [None] * len(null_blocks))
    parts = [
        dask.delayed(block_summary, pure=True)(nb, *(c[i] for c in coord_blocks))
        for i, nb in enumerate(null_blocks)
    ]
    if method in _MOMENT_METHODS:
        summary = tree_reduce(parts, MomentSummary.merge)
    else:
        summary = tree_reduce(parts, functools.partial(KeySummary.merge, limit=limit))
    # the scores' pools never depend on the null's sources
    score_args = coord_args[:10] + [None, None, None, None]
    return da.blockwise(
        _p_value_block, "smrt", score, "smrt", None, None, *score_args,
        summary=summary, ftype=ftype, dtype=np.float32, concatenate=True, **opts,
    )
