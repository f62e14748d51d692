"""Simulated sequences (dfimx.simulate.sequences): planted motifs, classes, writers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dfimx.alphabet import BASES
from dfimx.io.fasta import stream_fasta
from dfimx.io.meme import write_meme
from dfimx.motifs.pwm import log_odds
from dfimx.simulate import (
    CLASSES,
    DEFAULT_CLASS_FRACTIONS,
    Simulation,
    place_elements,
    simulate_sequences,
)

KINDS = {"AB": {"A", "B"}, "A": {"A"}, "B": {"B"}, "none": set()}


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate_sequences(n=300, length=200, seed=5)


def _log_odds(pwm: np.ndarray) -> np.ndarray:
    """Log-odds on a uniform background with 1e-3 added to every probability."""
    return log_odds(pwm, "uniform", pseudocount=4e-3)


def test_shapes_and_types(sim):
    assert isinstance(sim, Simulation)
    assert sim.onehot.shape == (300, 200, 4) and sim.onehot.dtype == np.uint8
    assert (sim.onehot.sum(axis=-1) == 1).all()
    assert sim.seq_ids[:3] == ["sim0000", "sim0001", "sim0002"]
    assert len(set(sim.seq_ids)) == len(sim) == 300
    assert sim.labels.shape == (300,) and sim.labels.dtype == np.int64
    assert sim.classes.shape == (300,) and set(sim.classes) <= set(CLASSES)
    assert sim.true_pair_names == ("GATA_like", "TAL1_like")
    assert "GATA_like" not in sim.decoy_names and len(sim.decoy_names) >= 4
    el = sim.elements
    assert list(el.columns[:5]) == ["seq", "start", "end", "name", "role"]
    assert {"kind", "is_pair_member", "strand", "site"} <= set(el.columns)
    assert el["start"].dtype == np.int64 and el["end"].dtype == np.int64
    assert el["is_pair_member"].dtype == bool
    assert (el["role"] == "both").all()
    assert (el["is_pair_member"] == el["kind"].isin(["A", "B"])).all()
    assert (el.loc[el["kind"] == "A", "name"] == "GATA_like").all()
    assert (el.loc[el["kind"] == "B", "name"] == "TAL1_like").all()
    assert set(el.loc[el["kind"] == "decoy", "name"]) <= set(sim.decoy_names)
    assert len(sim.sequences) == 300 and set("".join(sim.sequences)) <= set(BASES)


def test_planted_sites_are_at_recorded_coordinates(sim):
    seqs = dict(zip(sim.seq_ids, sim.sequences, strict=True))
    index = {s: i for i, s in enumerate(sim.seq_ids)}
    rng = np.random.default_rng(0)
    rel, background = [], []
    for row in sim.elements.itertuples():
        assert 0 <= row.start < row.end <= sim.length
        pwm = sim.motifs[row.name]
        assert row.end - row.start == len(pwm)
        assert seqs[row.seq][row.start : row.end] == row.site
        lo = _log_odds(pwm)
        best = lo.max(axis=1).sum()
        x = sim.onehot[index[row.seq]]
        rel.append((x[row.start : row.end] * lo).sum() / best)
        start = int(rng.integers(0, sim.length - len(pwm)))
        background.append((x[start : start + len(pwm)] * lo).sum() / best)
    rel, background = np.array(rel), np.array(background)
    # planted sites score near the consensus; random windows score below zero
    assert np.median(rel) > 0.8 and (rel > 0.3).mean() > 0.97
    assert np.median(background) < 0 and (background > 0.3).mean() < 0.03


def test_sites_follow_the_pwm(sim):
    el = sim.elements[sim.elements["name"] == "TAL1_like"]
    sites = np.array([[BASES.index(c) for c in s] for s in el["site"]])
    freq = np.stack([(sites == b).mean(axis=0) for b in range(4)], axis=1)
    np.testing.assert_allclose(freq, sim.motifs["TAL1_like"], atol=0.1)


def test_elements_do_not_overlap(sim):
    for _, group in sim.elements.groupby("seq"):
        g = group.sort_values("start")
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1] + 1).all()
        assert g["name"].is_unique


def test_classes_and_labels_consistent(sim):
    assert ((sim.classes == "AB") == (sim.labels == 1)).all()
    kinds = sim.elements.groupby("seq")["kind"].agg(lambda k: set(k) - {"decoy"})
    n_decoys = sim.elements[sim.elements["kind"] == "decoy"].groupby("seq").size()
    for sid, cls in zip(sim.seq_ids, sim.classes, strict=True):
        assert kinds.get(sid, set()) == KINDS[cls]
        assert 1 <= n_decoys.get(sid, 0) <= 2
    counts = pd.Series(sim.classes).value_counts()
    for cls, frac in DEFAULT_CLASS_FRACTIONS.items():
        assert counts[cls] == round(300 * frac)


def test_class_fractions_and_decoy_options():
    s = simulate_sequences(
        n=7, length=150, seed=1, class_fractions={"AB": 1, "none": 1}, n_decoys=0
    )
    assert set(s.classes) == {"AB", "none"}
    assert sorted(pd.Series(s.classes).value_counts().tolist()) == [3, 4]
    assert set(s.elements["kind"]) <= {"A", "B"}
    s = simulate_sequences(n=5, length=200, n_decoys=3, decoys=["SP1_like", "AP1_like", "ETS_like"])
    dec = s.elements[s.elements["kind"] == "decoy"]
    assert dec.groupby("seq").size().eq(3).all()
    assert set(dec["name"]) == {"SP1_like", "AP1_like", "ETS_like"}
    empty = simulate_sequences(n=0, length=100)
    assert empty.onehot.shape == (0, 100, 4) and len(empty.elements) == 0


def test_seeded_determinism():
    a = simulate_sequences(n=40, length=120, seed=11)
    b = simulate_sequences(n=40, length=120, seed=11)
    np.testing.assert_array_equal(a.onehot, b.onehot)
    np.testing.assert_array_equal(a.classes, b.classes)
    pd.testing.assert_frame_equal(a.elements, b.elements)
    c = simulate_sequences(n=40, length=120, seed=12)
    assert not np.array_equal(a.onehot, c.onehot)
    d = simulate_sequences(n=40, length=120, seed=11, id_prefix="test")
    assert d.seq_ids[0] == "test0000"
    assert not np.array_equal(a.onehot, d.onehot)


def test_gc_and_revcomp():
    s = simulate_sequences(n=50, length=300, seed=2, gc=0.7, revcomp=1.0, n_decoys=0)
    mask = np.ones(s.onehot.shape[:2], bool)
    index = {sid: i for i, sid in enumerate(s.seq_ids)}
    for row in s.elements.itertuples():
        mask[index[row.seq], row.start : row.end] = False
    bg = s.onehot[mask]
    assert abs(bg[:, 1:3].sum() / len(bg) - 0.7) < 0.03
    assert (s.elements["strand"] == "-").all()
    comp = str.maketrans("ACGT", "TGCA")
    plus, minus = [], []
    for row in s.elements.itertuples():
        lo = _log_odds(s.motifs[row.name])
        site = np.eye(4)[[BASES.index(c) for c in row.site]]
        rc = np.eye(4)[[BASES.index(c) for c in row.site.translate(comp)[::-1]]]
        plus.append((site * lo).sum() / lo.max(axis=1).sum())
        minus.append((rc * lo).sum() / lo.max(axis=1).sum())
    assert np.median(minus) > 0.8 and np.median(plus) < 0.2


def test_custom_motifs_and_errors(tmp_path):
    pwms = {"X": np.eye(4)[[0, 0, 0, 0, 0, 0]], "Y": np.eye(4)[[2] * 6], "Z": np.full((6, 4), 0.25)}
    path = write_meme(pwms, tmp_path / "m.meme")
    s = simulate_sequences(n=10, length=60, motifs=path)
    assert s.true_pair_names == ("X", "Y") and s.decoy_names == ("Z",)
    assert set(s.elements.loc[s.elements["name"] == "X", "site"]) == {"AAAAAA"}
    s2 = simulate_sequences(n=10, length=60, motifs=pwms, pair=("Y", "Z"), decoys=["X"])
    assert s2.true_pair_names == ("Y", "Z")
    with pytest.raises(ValueError, match="too short"):
        simulate_sequences(n=2, length=20)
    with pytest.raises(ValueError, match="not in the motif set"):
        simulate_sequences(n=2, pair=("GATA_like", "nope"))
    with pytest.raises(ValueError, match="must differ"):
        simulate_sequences(n=2, pair=("GATA_like", "GATA_like"))
    with pytest.raises(ValueError, match="decoy cannot"):
        simulate_sequences(n=2, decoys=["GATA_like"])
    with pytest.raises(ValueError, match="unknown class"):
        simulate_sequences(n=2, class_fractions={"C": 1.0})
    with pytest.raises(ValueError, match="gc"):
        simulate_sequences(n=2, gc=1.5)


def test_writers(sim, tmp_path):
    fa = sim.subset(slice(0, 5)).to_fasta(tmp_path / "s.fa", line_width=60)
    lines = fa.read_text().splitlines()
    assert lines[0] == ">sim0000" and len(lines[1]) == 60
    assert dict(stream_fasta(fa)) == dict(zip(sim.seq_ids[:5], sim.sequences[:5], strict=True))
    tsv = pd.read_csv(sim.elements_tsv(tmp_path / "e.tsv"), sep="\t")
    assert list(tsv.columns) == ["seq", "start", "end", "name", "role"]
    pd.testing.assert_frame_equal(tsv, sim.elements[list(tsv.columns)])
    files = sim.save(tmp_path / "out")
    labels = pd.read_csv(files["labels"], sep="\t")
    assert labels["label"].tolist() == sim.labels.tolist()
    full = pd.read_csv(files["elements"], sep="\t")
    assert list(full.columns) == list(sim.elements.columns)


def test_subset(sim):
    sub = sim.subset([5, 2])
    assert sub.seq_ids == [sim.seq_ids[5], sim.seq_ids[2]]
    np.testing.assert_array_equal(sub.onehot[1], sim.onehot[2])
    assert list(dict.fromkeys(sub.elements["seq"])) == sub.seq_ids


def test_to_dataset(sim):
    from dfimx import variables

    ds = sim.to_dataset()
    variables.validate(ds, "seq_id", "seq_onehot")
    assert ds["seq_id"].values.tolist() == sim.seq_ids
    assert ds.attrs["simulation_pair"] == ["GATA_like", "TAL1_like"]


def test_place_elements_keeps_order_and_gaps():
    rng = np.random.default_rng(0)
    for _ in range(200):
        widths = rng.integers(1, 8, rng.integers(1, 5)).tolist()
        gaps = rng.integers(0, 4, len(widths) - 1).tolist()
        length = sum(widths) + sum(gaps) + int(rng.integers(0, 6))
        starts = place_elements(widths, gaps, length, rng)
        ends = [s + w for s, w in zip(starts, widths, strict=True)]
        assert starts[0] >= 0 and ends[-1] <= length
        assert all(starts[i + 1] - ends[i] >= gaps[i] for i in range(len(gaps)))
    assert place_elements([3, 3], 2, 8, rng) == [0, 5]
    assert place_elements([3, 3], [3], 8, rng) is None
