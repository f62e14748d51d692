"""PWMs (dfimx.motifs.pwm): sampling, consensus, reverse complement and the one log-odds."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.alphabet import DEFAULT_GC, gc_background
from dfimx.io.meme import default_motifs_path, read_meme
from dfimx.motifs.pwm import (
    DEFAULT_BACKGROUND,
    as_background,
    consensus,
    log_odds,
    reverse_complement_pwm,
    sample_motif,
)


def test_sample_motif_frequencies_and_determinism():
    pwm = read_meme(default_motifs_path())["TAL1_like"]
    draws = np.stack([sample_motif(pwm, np.random.default_rng([7, i])) for i in range(4000)])
    assert draws.dtype == np.int8 and draws.min() >= 0 and draws.max() <= 3
    freq = np.stack([(draws == b).mean(axis=0) for b in range(4)], axis=1)
    np.testing.assert_allclose(freq, pwm, atol=0.03)
    a = sample_motif(pwm, np.random.default_rng(3))
    b = sample_motif(pwm, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    onehot = np.eye(4)[[2, 0, 3]]
    assert sample_motif(onehot, np.random.default_rng(0)).tolist() == [2, 0, 3]


def test_consensus_revcomp_log_odds():
    pwm = read_meme(default_motifs_path())["GATA_like"]
    rc = reverse_complement_pwm(pwm)
    comp = str.maketrans("ACGT", "TGCA")
    assert consensus(rc) == consensus(pwm).translate(comp)[::-1]
    np.testing.assert_array_equal(reverse_complement_pwm(rc), pwm)
    lo = log_odds(pwm, "uniform", pseudocount=4e-3)
    assert lo.shape == pwm.shape
    assert (lo.argmax(axis=1) == pwm.argmax(axis=1)).all()


@pytest.mark.parametrize("eps", [1e-3, 0.05])
def test_log_odds_on_a_uniform_background_adds_eps_to_every_probability(eps):
    pwm = np.random.default_rng(3).dirichlet(np.full(4, 0.5), size=7)
    expect = np.log2((pwm + eps) / (1 + 4 * eps) / 0.25)
    np.testing.assert_allclose(log_odds(pwm, "uniform", pseudocount=4 * eps), expect,
                               rtol=1e-12)


def test_default_background_is_the_gc_background():
    np.testing.assert_allclose(DEFAULT_BACKGROUND, gc_background(DEFAULT_GC), rtol=1e-6)
    assert DEFAULT_BACKGROUND == (0.27, 0.23, 0.23, 0.27)
    bg = np.asarray(DEFAULT_BACKGROUND)
    w = log_odds(np.eye(4)[[1]], pseudocount=0.1)
    np.testing.assert_allclose(w, np.log2((np.eye(4)[[1]] + 0.1 * bg) / 1.1 / bg))
    with pytest.raises(ValueError, match="4 positive"):
        as_background((1, 0, 1, 1))
    with pytest.raises(ValueError, match="uniform"):
        as_background("gc")
    with pytest.raises(ValueError, match="shape"):
        log_odds(np.ones((2, 3)))
