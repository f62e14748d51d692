"""Position weight matrices: log-odds weights, consensus, reverse complement, sampling.

PWMs are ``(width, 4)`` float arrays of letter probabilities in the order A C G T
(the order of :data:`dfimx.alphabet.BASES`), one row per motif position; MEME files
are read and written by :mod:`dfimx.io.meme`.

Examples
--------
>>> from dfimx.io.meme import default_motifs_path, read_meme
>>> pwm = read_meme(default_motifs_path())["GATA_like"]
>>> consensus(pwm), consensus(reverse_complement_pwm(pwm))
('TCAGATAAGA', 'TCTTATCTGA')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dfimx.alphabet import BASES, DEFAULT_GC, N_BASES, gc_background

__all__ = [
    "DEFAULT_BACKGROUND",
    "DEFAULT_PSEUDOCOUNT",
    "as_background",
    "consensus",
    "log_odds",
    "reverse_complement_pwm",
    "sample_motif",
]

#: Background of a genome with GC fraction :data:`dfimx.alphabet.DEFAULT_GC` (A C G T),
#: rounded to the precision of the float32 row it comes from: ``(0.27, 0.23, 0.23, 0.27)``.
DEFAULT_BACKGROUND = tuple(round(float(x), 6) for x in gc_background(DEFAULT_GC))
#: FIMO's motif pseudocount, weighted by the background.
DEFAULT_PSEUDOCOUNT = 0.1


def as_background(background: Sequence[float] | str) -> tuple[float, ...]:
    """Normalized ``(A, C, G, T)`` frequencies from 4 positive numbers or ``"uniform"``.

    Examples
    --------
    >>> as_background("uniform")
    (0.25, 0.25, 0.25, 0.25)
    >>> as_background((1, 1, 1, 2))
    (0.2, 0.2, 0.2, 0.4)
    """
    if isinstance(background, str):
        if background != "uniform":
            raise ValueError(f"background must be 'uniform' or 4 frequencies, got {background!r}")
        return (0.25, 0.25, 0.25, 0.25)
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (N_BASES,) or (bg <= 0).any():
        raise ValueError(f"background must be 4 positive frequencies (A C G T), got {background}")
    return tuple(float(x) for x in bg / bg.sum())


def log_odds(
    pwm: np.ndarray,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
    *,
    pseudocount: float = DEFAULT_PSEUDOCOUNT,
) -> np.ndarray:
    """Log2-odds weights of a ``(width, 4)`` PWM against a background, FIMO-style.

    ``log2(((p + pseudocount * bg) / (1 + pseudocount)) / bg)`` per column, with the rows
    of ``pwm`` normalized first. On a uniform background ``pseudocount = 4 * eps`` gives
    ``log2(((p + eps) / (1 + 4 * eps)) / 0.25)``, a pseudocount ``eps`` added to every
    probability.

    Examples
    --------
    >>> w = log_odds(np.array([[1.0, 0, 0, 0]]), "uniform")
    >>> np.round(w, 3).tolist()
    [[1.898, -3.459, -3.459, -3.459]]
    """
    bg = np.asarray(as_background(background))
    p = np.asarray(pwm, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_BASES or p.shape[0] == 0:
        raise ValueError(f"a PWM must have shape (width, 4), got {p.shape}")
    p = p / p.sum(axis=1, keepdims=True)
    return np.log2((p + pseudocount * bg) / (1 + pseudocount) / bg)


def sample_motif(pwm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one motif instance from a PWM, each position independently.

    Parameters
    ----------
    pwm
        ``(width, 4)`` letter probabilities (rows are renormalized).
    rng
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``(width,)`` int8 base codes 0-3 (A C G T).

    Examples
    --------
    >>> pwm = np.eye(4)[[0, 1, 2, 3]] * 0.97 + 0.0075
    >>> codes = sample_motif(pwm, np.random.default_rng(0))
    >>> codes.shape, codes.dtype
    ((4,), dtype('int8'))
    >>> "".join("ACGT"[c] for c in sample_motif(np.eye(4)[[0, 1, 2, 3]], np.random.default_rng(1)))
    'ACGT'
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    cdf = np.cumsum(pwm / pwm.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(pwm))
    codes = (u[:, None] >= cdf[:, :-1]).sum(axis=1)
    return codes.astype(np.int8)


def consensus(pwm: np.ndarray) -> str:
    """Most likely base at each position.

    Examples
    --------
    >>> consensus(np.eye(4)[[3, 0, 2]])
    'TAG'
    """
    return "".join(BASES[i] for i in np.asarray(pwm).argmax(axis=1))


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """PWM of the opposite strand (rows reversed, A<->T and C<->G swapped).

    Examples
    --------
    >>> consensus(reverse_complement_pwm(np.eye(4)[[0, 0, 2]]))
    'CTT'
    """
    return np.asarray(pwm)[::-1, ::-1].copy()
