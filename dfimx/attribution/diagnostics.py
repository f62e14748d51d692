"""Summation-to-delta checks of reference-based attributions and the last call's record.

DeepLIFT and DeepSHAP contributions sum to ``f(x) - f(ref)``; integrated gradients do up
to the error of their Riemann sum.  Each such call records its largest violation here
(:func:`last_diagnostics`), and warns in debug mode (``debug=True`` or the environment
variable ``DFIMX_DEBUG``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

#: Relative summation-to-delta violation above which debug mode warns.
DEBUG_TOLERANCE = 1e-3

#: Fraction of ``max(|f(x)|, |f(ref)|)`` below which a difference is float rounding: the
#: smallest scale a relative violation is measured against.
OUTPUT_ROUNDING = 1e-2

#: Relative violation above which a run warns and its report flags the attributions.
RUN_TOLERANCE = 1e-3

_DIAG_LOCK = threading.Lock()
_LAST_DIAG: dict[str, Any] = {}
_COLLECTORS = threading.local()


class Violations:
    """The largest relative violation recorded while :func:`collect_violations` is open."""

    def __init__(self) -> None:
        self.max = float("nan")
        self._lock = threading.Lock()  # calls of one collector may run in several threads

    def add(self, rel_err: float) -> None:
        with self._lock:
            if not rel_err <= self.max:  # also replaces the initial NaN
                self.max = float(rel_err)


@contextlib.contextmanager
def collect_violations() -> Iterator[Violations]:
    """Collect the summation-to-delta violations of every call made in this thread.

    Examples
    --------
    >>> with collect_violations() as v:
    ...     record("deeplift", 0.0, 2e-7, 3, debug=False)
    ...     record("deeplift", 0.0, 5e-7, 3, debug=False)
    >>> v.max
    5e-07
    """
    stack = getattr(_COLLECTORS, "stack", None)
    if stack is None:
        stack = _COLLECTORS.stack = []
    v = Violations()
    stack.append(v)
    try:
        yield v
    finally:
        stack.remove(v)


def active_collectors() -> tuple[Violations, ...]:
    """The collectors open in this thread (for :func:`collecting_into` in another one).

    Examples
    --------
    >>> with collect_violations() as v:
    ...     active_collectors() == (v,)
    True
    """
    return tuple(getattr(_COLLECTORS, "stack", ()))


@contextlib.contextmanager
def collecting_into(collectors: tuple[Violations, ...]) -> Iterator[None]:
    """Record this thread's violations in ``collectors`` too (opened in another thread).

    Examples
    --------
    >>> import threading
    >>> with collect_violations() as v:
    ...     mine = active_collectors()
    ...     def work():
    ...         with collecting_into(mine):
    ...             record("deeplift", 0.0, 3e-7, 1, debug=False)
    ...     t = threading.Thread(target=work); t.start(); t.join()
    >>> v.max
    3e-07
    """
    before = getattr(_COLLECTORS, "stack", None)
    _COLLECTORS.stack = [*(before or ()), *collectors]
    try:
        yield
    finally:
        _COLLECTORS.stack = before if before is not None else []


def debug_enabled(debug: bool | None) -> bool:
    """``debug`` when given, else whether ``DFIMX_DEBUG`` is set to a true value.

    Examples
    --------
    >>> debug_enabled(True), debug_enabled(False)
    (True, False)
    """
    if debug is not None:
        return bool(debug)
    return os.environ.get("DFIMX_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def summation_delta_violation(
    contributions: np.ndarray, f_x: np.ndarray, f_ref: np.ndarray
) -> tuple[float, float]:
    """Largest absolute and relative violation of summation-to-delta.

    ``contributions`` is ``(B, L, 4, T)`` (per input/reference pair), ``f_x`` and ``f_ref``
    are ``(B, T)``.  The relative violation divides ``|sum(c) - (f(x) - f(r))|`` by
    ``max(|f(x) - f(r)|, sum(|c|), 1e-2 max(|f(x)|, |f(r)|))``: the scale of float
    rounding in the sum, and at least a small fraction of the outputs themselves.

    Examples
    --------
    >>> c = np.ones((1, 2, 4, 1), np.float32)
    >>> summation_delta_violation(c, np.array([[9.0]]), np.array([[1.0]]))
    (0.0, 0.0)
    """
    c = np.asarray(contributions, np.float64)
    return violation_from_sums(c.sum(axis=(1, 2)), np.abs(c).sum(axis=(1, 2)), f_x, f_ref)


def violation_from_sums(
    total: np.ndarray, abs_total: np.ndarray, f_x: np.ndarray, f_ref: np.ndarray
) -> tuple[float, float]:
    """:func:`summation_delta_violation` from the per-row sums of ``c`` and ``|c|``.

    Examples
    --------
    >>> violation_from_sums(np.array([[7.0]]), np.array([[8.0]]), np.array([[9.0]]),
    ...                     np.array([[1.0]]))
    (1.0, 0.125)
    """
    fx, fr = np.asarray(f_x, np.float64), np.asarray(f_ref, np.float64)
    delta = fx - fr
    err = np.abs(np.asarray(total, np.float64) - delta)
    # float rounding of f itself (~1e-7 |f|, batch-size dependent) is no violation where
    # f(x) = f(ref): measured against at least 1e-2 |f|, it stays near 1e-5
    floor = np.maximum(OUTPUT_ROUNDING * np.maximum(np.abs(fx), np.abs(fr)), 1e-12)
    rel = err / np.maximum(np.maximum(np.abs(delta), abs_total), floor)
    return float(err.max(initial=0.0)), float(rel.max(initial=0.0))


def record(method: str, abs_err: float, rel_err: float, n: int, debug: bool) -> None:
    """Keep the violations of the last call; in ``debug`` mode warn above the tolerance."""
    for collector in getattr(_COLLECTORS, "stack", ()):
        collector.add(rel_err)
    with _DIAG_LOCK:
        _LAST_DIAG.clear()
        _LAST_DIAG.update(
            method=method, max_abs_violation=abs_err, max_rel_violation=rel_err, n_pairs=n
        )
    if debug and rel_err > DEBUG_TOLERANCE:
        warnings.warn(
            f"{method}: summation-to-delta violated by {rel_err:.3g} (relative), "
            f"{abs_err:.3g} (absolute)",
            RuntimeWarning,
            stacklevel=3,
        )


def last_summation_delta_violation() -> float | None:
    """Largest relative summation-to-delta violation of the last reference-based call.

    Set by ``deeplift``, ``deepshap`` and ``integrated_gradients`` (for IG it measures
    the completeness error of the Riemann sum); None before any such call.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.attribution import attribute
    >>> inp = keras.Input((6, 4))
    >>> h = keras.layers.Conv1D(3, 3, activation="relu")(inp)
    >>> out = keras.layers.Dense(1)(keras.layers.Flatten()(h))
    >>> X = np.eye(4, dtype="float32")[np.random.default_rng(1).integers(0, 4, (2, 6))]
    >>> _ = attribute(keras.Model(inp, out), X, method="deeplift")
    >>> last_summation_delta_violation() < 1e-4
    True
    """
    with _DIAG_LOCK:
        return _LAST_DIAG.get("max_rel_violation")


def last_diagnostics() -> dict[str, Any]:
    """Diagnostics of the last reference-based call (method, violations, pair count).

    Examples
    --------
    >>> record("deeplift", 0.0, 0.0, 3, debug=False)
    >>> last_diagnostics()["n_pairs"]
    3
    """
    with _DIAG_LOCK:
        return dict(_LAST_DIAG)
