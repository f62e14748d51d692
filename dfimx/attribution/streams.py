"""Model calls in concurrent streams: the batches of one call shared among a few threads.

On a CPU, one TensorFlow call leaves cores idle between its many small operations (1.5 of
2 cores busy on the small per-base benchmark net, 1.9 on the mid one); two calls at once
fill those gaps, 1.15-1.25x more attributions per second on both (``make bench``).  The
batches are the ones a single call makes (pieces start at multiples of ``batch_size``), so
the numbers are the same bits.  One pool per process caps the calls that run at once,
whatever the number of scheduler threads that submit them.

The number of streams is :data:`DEFAULT_MODEL_STREAMS`, or the environment variable
``DFIMX_MODEL_STREAMS`` (``1`` runs every call in its caller's thread, as before).

Examples
--------
>>> import numpy as np
>>> double = lambda x, r: (2 * x, None)
>>> y, none = call_in_streams(double, np.arange(10.0), None, batch_size=3)
>>> y.tolist() == (2 * np.arange(10.0)).tolist(), none
(True, None)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from dfimx.attribution.diagnostics import active_collectors, collecting_into
from dfimx.errors import InputError

#: Model calls that run at once in one process unless ``DFIMX_MODEL_STREAMS`` says otherwise.
DEFAULT_MODEL_STREAMS = 2
STREAMS_ENV = "DFIMX_MODEL_STREAMS"

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def model_streams() -> int:
    """Concurrent model calls per process: ``DFIMX_MODEL_STREAMS`` or the default.

    Examples
    --------
    >>> model_streams() >= 1
    True
    """
    raw = os.environ.get(STREAMS_ENV, "").strip()
    if not raw:
        return DEFAULT_MODEL_STREAMS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{STREAMS_ENV}={raw!r}: expected a whole number of at least 1")
    return value


def _pool(streams: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(streams)
        if pool is None:
            pool = _POOLS[streams] = ThreadPoolExecutor(
                max_workers=streams, thread_name_prefix="dfimx-model")
        return pool


def _join(parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(None if parts[0][i] is None else np.concatenate([p[i] for p in parts])
                 for i in range(len(parts[0])))


def call_in_streams(
    fn: Callable[[np.ndarray, np.ndarray | None], tuple[Any, ...]],
    X: np.ndarray,
    references: np.ndarray | None,
    *,
    batch_size: int,
    streams: int | None = None,
) -> tuple[Any, ...]:
    """``fn(X, references)``, its batches run on up to ``streams`` threads.

    ``fn`` returns a tuple of arrays along the rows of ``X`` (or None); it is called on
    pieces of whole batches (rows ``[j * batch_size, (j + 1) * batch_size)``, the same
    batches one call makes), and the pieces are joined in order.  Summation-to-delta
    violations recorded in the pool's threads reach the caller's
    :func:`~dfimx.attribution.diagnostics.collect_violations`.

    Examples
    --------
    >>> import numpy as np
    >>> sums = lambda x, r: (x.sum(axis=1), x.max(axis=1))
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> [a.tolist() == b.tolist() for a, b in zip(call_in_streams(sums, X, None, batch_size=4),
    ...                                           sums(X, None))]
    [True, True]
    """
    streams = model_streams() if streams is None else max(1, int(streams))
    batch_size = max(1, int(batch_size))
    n = len(X)
    if streams == 1 or n <= batch_size:
        return fn(X, references)
    collectors = active_collectors()

    def piece(lo: int) -> tuple[Any, ...]:
        sl = slice(lo, min(n, lo + batch_size))
        with collecting_into(collectors):
            return fn(X[sl], None if references is None else references[sl])

    pool = _pool(streams)
    futures: list[Future] = [pool.submit(piece, lo) for lo in range(0, n, batch_size)]
    try:
        parts = [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        for f in futures:  # no piece may still write after the caller has moved on
            if not f.cancelled():
                f.exception()
        raise
    return _join(parts)


__all__ = ["DEFAULT_MODEL_STREAMS", "STREAMS_ENV", "call_in_streams", "model_streams"]
