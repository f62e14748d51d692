"""On the project's simulation, DFIM separates the true motif pair from decoy pairs."""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

from dfimx import simulate
from dfimx.api import run_dfim
from dfimx.export import to_dataframe
from dfimx.store import open_result


def _auroc(pos, neg):
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return u / (len(pos) * len(neg))


def test_true_pair_separated_from_decoys_grad_x_input(demo_model, tmp_path):
    sim = simulate.simulate_sequences(150, 200, seed=21, id_prefix="t")
    fasta = sim.to_fasta(tmp_path / "s.fa")
    elements = sim.elements_tsv(tmp_path / "e.tsv")
    store = run_dfim(demo_model, str(fasta), elements=str(elements),
                     output=str(tmp_path / "r.zarr"), method="grad_x_input", null="none",
                     progress=False, chunk_size=50)
    df = to_dataframe(open_result(store))
    a, b = sim.true_pair_names
    true = ((df.source_name == a) & (df.target_name == b)) | (
        (df.source_name == b) & (df.target_name == a))
    assert true.sum() > 50 and (~true).sum() > 50
    auc = _auroc(df.score[true].to_numpy(), df.score[~true].to_numpy())
    assert auc >= 0.95, auc
    # and each true pair's median is above every decoy pair's median
    med = df.groupby(["source_name", "target_name"]).score.median()
    true_meds = [med[(a, b)], med[(b, a)]]
    decoy_meds = med.drop([(a, b), (b, a)])
    assert min(true_meds) > np.abs(decoy_meds).max()
