"""References of the reference-based methods (DeepLIFT, DeepSHAP, integrated gradients).

A reference batch has shape ``(N, K, L, 4)``: ``K`` references for each of the ``N``
inputs.  ``zeros`` and ``gc`` give one row shared by every input (a read-only broadcast
view, which the DeepLIFT kernel evaluates once per batch); ``dinuc`` gives ``K``
dinucleotide shuffles of each input, seeded by sequence id.
"""

from __future__ import annotations

import numpy as np

from dfimx.alphabet import DEFAULT_GC, gc_background
from dfimx.errors import InputError
from dfimx.shuffle import dinucleotide_shuffle

#: Reference kinds for methods that need one.
REFERENCES = ("zeros", "gc", "dinuc")
#: Number of shuffled references per sequence when none is given for ``dinuc``.
DEFAULT_N_SHUFFLED_REFERENCES = 10


def make_references(
    X: np.ndarray,
    kind: str = "zeros",
    *,
    gc: float = DEFAULT_GC,
    n_references: int | None = None,
    seq_ids: list[str] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """References for each input, ``(N, K, L, 4)`` float32.

    ``zeros``: all-zero input; ``gc``: the expected one-hot of a background with GC
    fraction ``gc`` (``(1-gc)/2, gc/2, gc/2, (1-gc)/2``); both have ``K = 1`` whatever
    ``n_references`` says, and are read-only broadcast views of one row.  ``dinuc``:
    ``n_references`` (default 10) dinucleotide shuffles of each input, drawn from
    ``sequence_rng(seed, seq_id, "reference", k)`` so they do not depend on chunking
    (``seq_ids`` default to the row index).

    Examples
    --------
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3, 3, 0]]]
    >>> make_references(X, "gc").shape, make_references(X, "dinuc", n_references=3).shape
    ((1, 1, 6, 4), (1, 3, 6, 4))
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise InputError(f"X must have shape (N, L, 4), got {X.shape}")
    n, length, nb = X.shape
    if kind == "zeros":
        return np.broadcast_to(np.zeros((1, 1, 1, 1), np.float32), (n, 1, length, nb))
    if kind == "gc":
        if not 0.0 <= gc <= 1.0:
            raise InputError(f"gc must lie between 0 and 1, got {gc}", option="gc")
        # one reference for every input: a read-only broadcast view (no copy)
        return np.broadcast_to(gc_background(gc), (n, 1, length, nb))
    if kind == "dinuc":
        k = DEFAULT_N_SHUFFLED_REFERENCES if n_references is None else int(n_references)
        if k < 1:
            raise InputError(f"n_references must be at least 1, got {k}", option="n_references")
        return dinucleotide_shuffle(X, k, seq_ids=seq_ids, seed=seed, purpose="reference")
    raise InputError(f"unknown reference {kind!r}; choose one of {list(REFERENCES)}",
                     option="reference")


def as_references(X: np.ndarray, references: np.ndarray | None) -> np.ndarray:
    """``references`` as an ``(N, K, L, 4)`` float32 batch for ``X`` (zeros when None).

    An ``(N, L, 4)`` array is one reference per input (``K = 1``).

    Examples
    --------
    >>> X = np.zeros((2, 5, 4), np.float32)
    >>> as_references(X, None).shape, as_references(X, np.ones((2, 5, 4))).shape
    ((2, 1, 5, 4), (2, 1, 5, 4))
    """
    if references is None:
        return np.zeros((len(X), 1) + X.shape[1:], np.float32)
    refs = np.asarray(references, np.float32)
    if refs.ndim == 3:
        refs = refs[:, None]
    if refs.ndim != 4 or refs.shape[0] != len(X) or refs.shape[2:] != X.shape[1:]:
        raise InputError(
            f"references must have shape (N, K, L, 4) = ({len(X)}, K, {X.shape[1]}, "
            f"{X.shape[2]}), got {refs.shape}"
        )
    return refs
