"""PWM scans (dfimx.motifs.scan): exact p-values, strict thresholds, strands and N."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dfimx.alphabet import codes_to_onehot
from dfimx.io.meme import load_motifs
from dfimx.io.vcf import read_variant_table
from dfimx.motifs.pwm import DEFAULT_BACKGROUND, log_odds
from dfimx.motifs.scan import HIT_COLUMNS, pvalue_table, scan_motifs
from dfimx.simulate import simulate_variant_genome
from dfimx.windows import variant_windows_dataset


def _all_kmers(width: int) -> np.ndarray:
    return np.array(list(itertools.product(range(4), repeat=width)), dtype=np.int8)


@pytest.mark.parametrize("background", [DEFAULT_BACKGROUND, "uniform", (0.1, 0.2, 0.3, 0.4)])
def test_pvalues_equal_brute_force_enumeration(background):
    rng = np.random.default_rng(11)
    pwm = rng.dirichlet(np.full(4, 0.4), size=6)
    bg = np.full(4, 0.25) if background == "uniform" else np.asarray(background) / sum(background)
    weights = log_odds(pwm, background)
    ints, survival, offset = pvalue_table(weights, background)
    kmers = _all_kmers(6)
    cols = np.arange(6)
    int_scores = ints[cols, kmers].sum(axis=1)
    prob = bg[kmers].prod(axis=1)
    assert np.isclose(prob.sum(), 1.0)
    # Exact P(S >= s) of the rounded score, by enumeration of all 4**6 sequences.
    order = np.argsort(int_scores)
    brute = {}
    for s in np.unique(int_scores):
        brute[s] = prob[int_scores >= s].sum()
    table = np.array([survival[s - offset] for s in int_scores])
    expected = np.array([brute[s] for s in int_scores])
    np.testing.assert_allclose(table, expected, rtol=1e-12, atol=0)
    # The rounding grid is fine: the p-value of the real-valued score is the same except
    # within a few grid steps of another sequence's score.
    real = weights[cols, kmers].sum(axis=1)
    real_p = np.array([prob[real >= x - 1e-12].sum() for x in real[order]])
    gap = np.abs(table[order] - real_p)
    ties = np.array([np.sum(np.abs(real - x) < 6e-3) > 1 for x in real[order]])
    assert gap[~ties].max() < 1e-12

    # scan_motifs over windows that are exactly the k-mers reports the same p-values.
    hits = scan_motifs(
        codes_to_onehot(kmers), {"m": pwm}, p_value_threshold=1.0 + 1e-9,
        background=background, both_strands=False,
    )
    assert len(hits) == len(kmers)
    np.testing.assert_allclose(hits["p_value"].to_numpy(), expected[hits["seq_index"]], rtol=1e-12)
    np.testing.assert_allclose(hits["score"].to_numpy(), real[hits["seq_index"]], atol=1e-12)


def test_threshold_is_strict_and_matches_enumeration():
    rng = np.random.default_rng(2)
    pwm = rng.dirichlet(np.full(4, 0.3), size=5)
    kmers = _all_kmers(5)
    hits = scan_motifs(codes_to_onehot(kmers), {"m": pwm}, p_value_threshold=1e-2,
                       both_strands=False)
    all_hits = scan_motifs(codes_to_onehot(kmers), {"m": pwm}, p_value_threshold=1.0 + 1e-9,
                           both_strands=False)
    expect = set(all_hits.loc[all_hits["p_value"] < 1e-2, "seq_index"])
    assert set(hits["seq_index"]) == expect and len(expect) > 0


def test_scan_positions_strands_and_n():
    pwm = np.eye(4)[[0, 0, 2, 1, 3, 3]] * 0.9 + 0.025  # AAGCTT is its own reverse complement
    gata = np.eye(4)[[0, 2, 0, 3, 0, 0]] * 0.9 + 0.025  # AGATAA; minus strand TTATCT
    x = np.full((3, 40), 1, np.int8)  # C background
    x[0, 3:9] = [0, 2, 0, 3, 0, 0]
    x[0, 20:26] = [3, 3, 0, 3, 1, 3]
    x[1, 10:16] = [0, 0, 2, 1, 3, 3]
    x[2, 10:16] = [0, 2, 0, 3, 0, 0]
    x[2, 12] = -1  # an N inside the motif: no hit
    hits = scan_motifs(codes_to_onehot(x), {"gata": gata, "pal": pwm}, p_value_threshold=1e-3)
    assert list(hits.columns) == list(HIT_COLUMNS)
    got = hits[["seq_index", "start", "end", "name", "strand"]].values.tolist()
    assert got == [
        [0, 3, 9, "gata", "+"],
        [0, 20, 26, "gata", "-"],
        [1, 10, 16, "pal", "+"],
        [1, 10, 16, "pal", "-"],
    ]
    assert hits["seq_index"].dtype == np.int64
    empty = scan_motifs(codes_to_onehot(x[:, :4]), {"gata": gata})
    assert list(empty.columns) == list(HIT_COLUMNS) and len(empty) == 0


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return simulate_variant_genome(
        out, contig_length=40_000, window=200, n_pairs=20, n_lone_motifs=5, n_decoy_motifs=10,
        n_random_variants=10, seed=1, revcomp=0.5,  # motifs on both strands
    )


def test_scan_finds_planted_motifs_at_exact_positions(sim):
    table, _ = read_variant_table(sim.vcf, sim.genome)
    ds = variant_windows_dataset(table, sim.genome, sim.window, chunk_size=16)
    onehot = ds["seq_onehot"].values
    starts = ds["window_start"].values
    pwms = load_motifs(sim.motifs)
    threshold = 1e-4
    hits = scan_motifs(onehot, pwms, p_value_threshold=threshold)
    found = set(map(tuple, hits[["seq_index", "start", "name", "strand"]].values.tolist()))
    expected_found = 0
    planted_in_windows = 0
    for i, (chrom, lo) in enumerate(zip(ds["variant_chrom"].values, starts, strict=True)):
        inside = sim.planted[
            (sim.planted.chrom == chrom) & (sim.planted.start >= lo)
            & (sim.planted.end <= lo + sim.window)
        ]
        for p in inside.itertuples(index=False):
            planted_in_windows += 1
            pwm = pwms[p.name] if p.strand == "+" else pwms[p.name][::-1, ::-1]
            codes = onehot[i, p.start - lo : p.end - lo].argmax(-1)
            # The planted instance's p-value, from its own bases and the exact table.
            ints, survival, offset = pvalue_table(log_odds(pwm), DEFAULT_BACKGROUND)
            pval = survival[ints[np.arange(len(pwm)), codes].sum() - offset]
            key = (i, p.start - lo, p.name, p.strand)
            assert (key in found) == (pval < threshold), key
            expected_found += pval < threshold
    assert planted_in_windows > 60
    assert expected_found / planted_in_windows > 0.6
    # Every pair-breaking variant's window holds its partner motif and the broken motif.
    pair_rows = np.flatnonzero(sim.truth["kind"].to_numpy() == "breaks_pair_motif")
    assert len(pair_rows) == 20
    for i in pair_rows:
        r = sim.truth.iloc[i]
        assert 0 <= r.partner_start - starts[i] and r.partner_end - starts[i] <= sim.window
        assert starts[i] <= r.motif_start and r.motif_end <= starts[i] + sim.window
