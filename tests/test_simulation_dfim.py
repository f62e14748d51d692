"""On the project's simulation, DFIM finds the true motif pair and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from dfimx import simulate
from dfimx.run import run_dfim
from dfimx.store import open_result
from dfimx.tables import to_dataframe


def _auroc(pos, neg):
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return u / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    d = tmp_path_factory.mktemp("heldout")
    sim = simulate.simulate_sequences(150, 200, seed=21, id_prefix="t")
    return sim, str(sim.to_fasta(d / "s.fa")), str(sim.elements_tsv(d / "e.tsv"))


def _is_true_pair(df, sim):
    a, b = sim.true_pair_names
    return ((df.source_name == a) & (df.target_name == b)) | (
        (df.source_name == b) & (df.target_name == a))


def test_true_pair_separated_from_decoys_grad_x_input(demo_model, heldout, tmp_path):
    sim, fasta, elements = heldout
    store = run_dfim(demo_model, fasta, elements=elements, output=str(tmp_path / "r.zarr"),
                     method="grad_x_input", null="none", progress=False, chunk_size=50)
    df = to_dataframe(open_result(store))
    true = _is_true_pair(df, sim)
    assert true.sum() > 50 and (~true).sum() > 50
    auc = _auroc(df.score[true].to_numpy(), df.score[~true].to_numpy())
    assert auc >= 0.95, auc
    # each direction of the true pair has a larger median than any decoy pair
    med = df.groupby(["source_name", "target_name"]).score.median()
    a, b = sim.true_pair_names
    decoy_meds = med.drop([(a, b), (b, a)])
    assert min(med[(a, b)], med[(b, a)]) > np.abs(decoy_meds).max()


def test_default_settings_power_and_false_discoveries(demo_model, heldout, tmp_path):
    """Defaults (DeepSHAP, dinucleotide-shuffled references, context null): true pairs
    significant, few others."""
    sim, fasta, elements = heldout
    store = run_dfim(demo_model, fasta, elements=elements, output=str(tmp_path / "d.zarr"),
                     progress=False, chunk_size=50)
    ds = open_result(store)
    assert (ds.attrs["method"], ds.attrs["reference"], ds.attrs["null"]) == (
        "deepshap", "dinuc", "context")
    df = to_dataframe(ds)
    true = _is_true_pair(df, sim)
    significant = df.q_value < 0.05
    assert significant[true].mean() >= 0.9, significant[true].mean()
    assert significant[~true].mean() <= 0.05, significant[~true].mean()


@pytest.fixture(scope="module")
def comparison_set(tmp_path_factory):
    """300 more held-out sequences, for the comparison with exact epistasis."""
    d = tmp_path_factory.mktemp("comparison")
    sim = simulate.simulate_sequences(300, 200, seed=22, id_prefix="c")
    return sim, str(sim.to_fasta(d / "s.fa")), str(sim.elements_tsv(d / "e.tsv"))


def test_dfim_ranks_pairs_like_exact_epistasis(demo_model, comparison_set, tmp_path):
    """DeepLIFT-GC (GC replacement) against f(x)-f(x-a)-f(x-b)+f(x-a-b); the default too.

    The exact epistasis uses the same replacement (``--method ism`` on the elements);
    DeepLIFT-GC's symmetric score (mean of a -> b and b -> a) follows it in rank, and the
    default (DeepSHAP) and DeepLIFT separate the true pair from decoys at least as well as
    gradient x input.
    """
    from scipy.stats import spearmanr

    sim, fasta, elements = comparison_set
    keys = ["seq_id", "source_name", "target_name"]
    tables = {}
    for method in ("default", "deeplift", "ism", "grad_x_input"):
        options = {} if method == "default" else {"method": method}
        store = run_dfim(demo_model, fasta, elements=elements, null="none", progress=False,
                         output=str(tmp_path / f"{method}.zarr"), **options)
        ds = open_result(store)
        assert ds.attrs["mutation_mode"] == "gc"
        tables[method] = to_dataframe(ds).set_index(keys)
    assert open_result(str(tmp_path / "default.zarr")).attrs["method"] == "deepshap"
    assert open_result(str(tmp_path / "deeplift.zarr")).attrs["reference"] == "gc"
    exact = tables["ism"]
    dl = tables["deeplift"].loc[exact.index]
    gxi = tables["grad_x_input"].loc[exact.index]
    default = tables["default"].loc[exact.index]
    assert len(exact) > 1000
    # exact epistasis is symmetric, and so is its symmetric score
    np.testing.assert_allclose(exact.symmetric_score, exact.score, rtol=1e-5, atol=1e-6)
    rho_sym = spearmanr(exact.score, dl.symmetric_score).statistic
    rho_dir = spearmanr(exact.score, dl.score).statistic
    assert rho_sym >= 0.8, (rho_sym, rho_dir)
    assert rho_sym > rho_dir
    assert rho_sym > spearmanr(exact.score, gxi.symmetric_score).statistic
    true = _is_true_pair(exact.reset_index(), sim).to_numpy()
    auc_gxi = _auroc(gxi.score[true], gxi.score[~true])
    for name, table in (("deeplift", dl), ("default", default)):
        auc = _auroc(table.score[true], table.score[~true])
        assert auc >= auc_gxi, (name, auc, auc_gxi)
