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


class StreamCall:
    """A model call submitted to the streams; :meth:`result` waits for it and joins it.

    Examples
    --------
    >>> import numpy as np
    >>> call = submit_in_streams(lambda x, r: (x + 1,), np.zeros(5), None, batch_size=2)
    >>> call.then(lambda out: float(out[0].sum())).result()
    5.0
    """

    def __init__(self, futures: list[Future] | None = None, value: Any = None,
                 post: Callable[[Any], Any] | None = None) -> None:
        self._futures, self._value, self._post = futures, value, post

    def then(self, post: Callable[[Any], Any]) -> StreamCall:
        """The same call with ``post`` applied to its joined result."""
        before = self._post
        chained = post if before is None else (lambda out: post(before(out)))
        return StreamCall(self._futures, self._value, chained)

    def cancel(self) -> None:
        """Drop the pieces not started; wait for the others (they write nothing shared)."""
        for f in self._futures or ():
            f.cancel()
        for f in self._futures or ():
            if not f.cancelled():
                f.exception()

    def result(self) -> Any:
        """The joined outputs (after :meth:`then`'s function); a piece's error is raised."""
        if self._futures is None:
            out = self._value
        else:
            try:
                out = _join([f.result() for f in self._futures])
            except BaseException:
                self.cancel()
                raise
        return out if self._post is None else self._post(out)


def submit_in_streams(
    fn: Callable[[np.ndarray, np.ndarray | None], tuple[Any, ...]],
    X: np.ndarray,
    references: np.ndarray | None,
    *,
    batch_size: int,
    streams: int | None = None,
) -> StreamCall:
    """Start ``fn(X, references)`` on the streams and return at once (see
    :func:`call_in_streams`); with one stream it runs here, before returning.

    Work submitted later queues behind this call's batches, so a caller can prepare and
    submit the next call, or reduce the last one, while the model runs.
    """
    streams = model_streams() if streams is None else max(1, int(streams))
    batch_size = max(1, int(batch_size))
    if streams == 1:
        return StreamCall(value=fn(X, references))
    collectors = active_collectors()
    n = len(X)

    def piece(lo: int) -> tuple[Any, ...]:
        sl = slice(lo, min(n, lo + batch_size))
        with collecting_into(collectors):
            return fn(X[sl], None if references is None else references[sl])

    pool = _pool(streams)
    return StreamCall([pool.submit(piece, lo) for lo in range(0, max(n, 1), batch_size)])


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
    return submit_in_streams(fn, X, references, batch_size=batch_size,
                             streams=streams).result()


__all__ = ["DEFAULT_MODEL_STREAMS", "STREAMS_ENV", "StreamCall", "call_in_streams", "model_streams",
           "submit_in_streams"]
