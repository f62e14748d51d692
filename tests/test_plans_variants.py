"""Variant-scan plans (dfimx.plans.variants): motif and cis-variant targets of windows."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest

from dfimx import variables
from dfimx.alphabet import codes_to_onehot
from dfimx.errors import InputError
from dfimx.io.vcf import read_variant_table
from dfimx.plans.variants import (
    TARGET_KINDS,
    motif_targets,
    plan_variant_targets,
    variant_scan_dataset,
    variants_in_windows,
)
from dfimx.simulate import simulate_variant_genome
from dfimx.windows import variant_windows_dataset


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """A simulated genome whose pair loci put each partner motif in its variant's window."""
    return simulate_variant_genome(tmp_path_factory.mktemp("sim"), contig_length=30_000,
                                   n_pairs=12, n_lone_motifs=3, n_decoy_motifs=6,
                                   n_random_variants=6, seed=2)


def test_motif_targets_exclude_dedupe_and_truncate():
    pal = np.eye(4)[[0, 0, 2, 1, 3, 3]] * 0.9 + 0.025
    gata = np.eye(4)[[0, 2, 0, 3, 0, 0]] * 0.9 + 0.025
    x = np.full((3, 60), 1, np.int8)
    x[0, 5:11] = [0, 0, 2, 1, 3, 3]  # palindrome: one target, not two
    x[0, 30:36] = [0, 2, 0, 3, 0, 0]
    x[1, 30:36] = [0, 2, 0, 3, 0, 0]  # overlaps the excluded position 32
    x[1, 50:56] = [0, 2, 0, 3, 0, 1]  # a weaker GATA
    x[1, 40:46] = [0, 2, 0, 3, 0, 0]
    onehot = codes_to_onehot(x)
    motifs = {"gata": gata, "pal": pal}
    r = motif_targets(onehot, motifs, 1e-2, exclude_positions=np.array([-1, 32, -1]))
    assert r.start.shape == (3, 2) and r.start.dtype == np.int64
    assert r.start[0].tolist() == [5, 30] and r.name[0].tolist() == ["pal", "gata"]
    assert r.start[1].tolist() == [40, 50] and r.mask[1].all()
    assert not r.mask[2].any() and r.name[2].tolist() == ["", ""]
    assert r.n_found.tolist() == [2, 2, 0]
    one = motif_targets(onehot, motifs, 1e-2, exclude_positions=32, max_responses=1)
    assert one.start.shape == (3, 1)
    assert one.start[1].tolist() == [40]  # the most significant is kept
    assert one.n_found.tolist() == [1, 2, 0]  # position 32 excluded in every row
    wide = motif_targets(onehot, motifs, 1e-2, max_responses=5)
    assert wide.mask.sum(1).tolist() == [2, 3, 0]
    dims = {k: v[0] for k, v in wide.variables().items()}
    assert set(dims.values()) == {("seq", "response")}


def _brute_cis(table: pd.DataFrame, window: int) -> list[set]:
    c = window // 2
    out = []
    for r in table.itertuples(index=False):
        lo = r.variant_pos - c
        s = set()
        for o in table.itertuples(index=False):
            if o.variant_chrom == r.variant_chrom and o.variant_pos != r.variant_pos:
                if lo <= o.variant_pos < lo + window:
                    s.add((o.variant_pos - lo, o.variant_id))
        out.append(s)
    return out


def test_variants_in_windows_matches_brute_force():
    rng = np.random.default_rng(4)
    n = 120
    table = pd.DataFrame(
        {
            "variant_chrom": rng.choice(["c1", "c2"], n),
            "variant_pos": rng.integers(1, 600, n),
        }
    )
    table["variant_id"] = [f"{c}:{p}" for c, p in zip(table.variant_chrom, table.variant_pos,
                                                       strict=True)]
    table = pd.concat([table, table.iloc[:10]], ignore_index=True)  # multi-allelic sites
    window = 51
    r = variants_in_windows(table, window)
    brute = _brute_cis(table, window)
    for i, expect in enumerate(brute):
        got = {(int(s), str(nm)) for s, nm, m in zip(r.start[i], r.name[i], r.mask[i],
                                                      strict=True) if m}
        assert got == expect
        assert (r.end[i][r.mask[i]] == r.start[i][r.mask[i]] + 1).all()
        assert (0 <= r.start[i][r.mask[i]]).all() and (r.start[i][r.mask[i]] < window).all()
    assert r.mask.shape[1] == max(len(s) for s in brute)
    near = variants_in_windows(table, window, max_responses=1)
    for i, expect in enumerate(brute):
        if expect:
            c = window // 2
            best = min(abs(s - c) for s, _ in expect)
            assert abs(near.start[i, 0] - c) == best


def test_variants_in_windows_sim_table(sim):
    table, _ = read_variant_table(sim.vcf, sim.genome)
    r = variants_in_windows(table, 100_000)
    assert r.mask.sum(1).max() > 0
    assert r.mask.shape[0] == len(table)


def _raising_scheduler(dsk, keys, **kwargs):
    raise AssertionError("a dask computation ran")


def test_plan_is_lazy_chunking_invariant_and_in_genome_coordinates(sim):
    table, _ = read_variant_table(sim.vcf, sim.genome)
    # one more site 3 bases after the first variant: a variant target in cis
    extra = table.iloc[[0]].assign(variant_pos=table["variant_pos"].iloc[0] + 3,
                                   variant_id="cis0", record_index=len(table))
    table = pd.concat([table, extra], ignore_index=True)
    with dask.config.set(scheduler=_raising_scheduler):
        plans = {c: variant_scan_dataset(table, sim.genome, sim.window, motifs=sim.motifs,
                                         max_motif_targets=4, chunk_size=c) for c in (3, 64)}
    a, b = (plans[c].compute(scheduler="sync") for c in (3, 64))
    for name in ("response_start", "response_end", "response_name", "response_mask",
                 "target_kind", "target_start", "target_end", "motif_targets_found",
                 "cis_variants_found"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
        assert a[name].attrs == variables.SPECS[name].attrs, name
    variables.validate(a)
    mask = a["response_mask"].values
    start = a["window_start"].values[:, None]
    np.testing.assert_array_equal(a["target_start"].values[mask],
                                  (start + a["response_start"].values)[mask])
    assert (a["target_start"].values[~mask] == -1).all()
    kinds, names = a["target_kind"].values, a["response_name"].values
    assert set(kinds[mask].tolist()) == set(TARGET_KINDS) and (kinds[~mask] == "").all()
    assert (kinds[:, :4][mask[:, :4]] == "motif").all()  # the motif slots come first
    center = sim.window // 2
    cis = [(kinds[i] == "variant") & mask[i] for i in (0, len(table) - 1)]
    assert names[0][cis[0]].tolist() == ["cis0"] and names[-1][cis[1]].tolist() == [
        table["variant_id"].iloc[0]]
    assert a["response_start"].values[0][cis[0]].tolist() == [center + 3]
    assert a["response_start"].values[-1][cis[1]].tolist() == [center - 3]
    for i in np.flatnonzero(sim.truth["kind"].to_numpy() == "breaks_pair_motif"):
        assert sim.truth["partner_motif"].iloc[i] in names[i].tolist()


def test_plan_checks_its_inputs(sim):
    table, _ = read_variant_table(sim.vcf, sim.genome)
    ds = variant_windows_dataset(table, sim.genome, sim.window)
    with pytest.raises(InputError) as err:
        plan_variant_targets(ds, table, max_motif_targets=0)
    assert err.value.option == "max_motif_targets" and "--" not in str(err.value)
    with pytest.raises(InputError) as err:
        plan_variant_targets(ds, table, max_cis_variants=-1)
    assert err.value.option == "max_cis_variants"
    with pytest.raises(ValueError, match="rows"):
        plan_variant_targets(ds, table.iloc[:3])
    with pytest.raises(variables.DatasetValidationError, match="window_valid"):
        plan_variant_targets(ds.drop_vars("window_valid"), table)
    with pytest.raises(InputError) as err:
        variant_scan_dataset(table, sim.genome, 0)
    assert err.value.option == "window"
