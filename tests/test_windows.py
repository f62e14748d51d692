"""Variant windows (dfimx.windows): genome slices around variants and the lazy dataset."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest

from dfimx import variables
from dfimx.alphabet import onehot_to_strings
from dfimx.errors import InputError
from dfimx.io.vcf import TABLE_COLUMNS
from dfimx.windows import extract_windows, variant_windows_dataset, window_starts


@pytest.mark.parametrize("window", [1, 8, 51, 100])
def test_windows_equal_genome_slices_and_pad_off_contig_ends(genome, window):
    fa, contigs = genome
    text = {k: v.upper() for k, v in contigs.items()}
    rng = np.random.default_rng(window)
    chroms = np.array(["chr1", "chr2", "chr1", "chr2", "chr2", "chr1"] * 4, dtype=object)
    lengths = {k: len(v) for k, v in text.items()}
    pos = np.array([rng.integers(1, lengths[c] + 1) for c in chroms])
    pos[:4] = [1, lengths["chr2"], lengths["chr1"], 103]
    onehot, valid = extract_windows(fa, chroms, pos, window)
    assert onehot.shape == (len(pos), window, 4) and onehot.dtype == np.uint8
    got = onehot_to_strings(onehot)
    starts = window_starts(pos, window)
    for i, (c, s) in enumerate(zip(chroms, starts, strict=True)):
        expect = "".join(
            text[c][p] if 0 <= p < lengths[c] else "N" for p in range(s, s + window)
        )
        assert got[i] == expect
        on = [(0 <= p < lengths[c]) for p in range(s, s + window)]
        assert valid[i].tolist() == on
        assert got[i][window // 2] == text[c][pos[i] - 1]
    assert not valid[0, : window // 2].any()


def test_alt_windows_change_only_the_centre(genome):
    fa, seqs = genome
    onehot, valid, alt = extract_windows(fa, ["chr1", "chr1"], [50, 60], 11, alts=["A", "t"])
    np.testing.assert_array_equal(
        extract_windows(fa, ["chr1", "chr1"], [50, 60], 11, alts=np.array([0, 3]))[2], alt
    )
    diff = (onehot != alt).any(-1)
    assert not diff[:, np.arange(11) != 5].any()
    assert onehot_to_strings(alt[:, 5:6]) == ["A", "T"]
    with pytest.raises(ValueError, match="single bases"):
        extract_windows(fa, ["chr1"], [50], 11, alts=["N"])
    with pytest.raises(InputError, match="'chr' prefix"):
        extract_windows(fa, ["2"], [50], 11)


def _raising_scheduler(dsk, keys, **kwargs):
    raise AssertionError("a dask computation ran")


def _table(genome):
    """A variant table as :func:`dfimx.io.vcf.read_variant_table` gives it (SNVs on both
    contigs, a few multi-allelic records split into one row per ALT)."""
    fa, seqs = genome
    rng = np.random.default_rng(3)
    rows = []
    for i, p in enumerate(sorted(rng.choice(np.arange(1, 520), 25, replace=False))):
        ref = seqs["chr1"][p - 1]
        alts = "ACGT".replace(ref, "")
        for alt in alts[:2] if i % 5 == 0 else alts[0]:
            rows.append(("chr1", int(p), ref, alt, f"v{i}", i))
    last = seqs["chr2"][299].upper()
    rows.append(("chr2", 300, last, "A" if last != "A" else "C", "v_end", 25))
    return fa, pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def test_lazy_dataset_computes_nothing_and_is_chunking_invariant(genome):
    fa, table = _table(genome)
    window = 40
    with dask.config.set(scheduler=_raising_scheduler):
        datasets = {
            c: variant_windows_dataset(table, fa, window, chunk_size=c) for c in (1, 4, 7, 100)
        }
    ref_onehot, ref_valid = extract_windows(
        fa, table["variant_chrom"], table["variant_pos"], window
    )
    with dask.config.set(scheduler="sync"):
        for chunk, ds in datasets.items():
            assert ds["seq_onehot"].chunks[0][0] == min(chunk, len(table))
            np.testing.assert_array_equal(ds["seq_onehot"].values, ref_onehot)
            np.testing.assert_array_equal(ds["window_valid"].values, ref_valid)
            for name in ("mutation_start", "mutation_end", "mutation_alt", "mutation_mask"):
                np.testing.assert_array_equal(
                    ds[name].values, datasets[100][name].values, err_msg=name
                )
    with dask.config.set(scheduler="threads", num_workers=2):
        np.testing.assert_array_equal(datasets[4]["seq_onehot"].values, ref_onehot)
    ds = datasets[4].compute(scheduler="sync")
    variables.validate(ds)
    for name in ds.data_vars:  # dims and attrs from the registry
        assert ds[name].attrs == variables.SPECS[name].attrs, name
    n = len(table)
    assert ds.sizes == {"seq": n, "position": window, "base": 4, "mutation": 1}
    assert len(set(ds["seq_id"].values.tolist())) == n
    assert "v0:" + table["variant_alt"].iloc[0] == ds["seq_id"].values[0]
    assert (ds["mutation_start"].values == window // 2).all()
    assert (ds["mutation_end"].values == window // 2 + 1).all()
    centre = ds["seq_onehot"].values[:, window // 2].argmax(-1)
    assert ["ACGT"[c] for c in centre] == table["variant_ref"].tolist()
    assert ["ACGT"[c] for c in ds["mutation_alt"].values[:, 0]] == table["variant_alt"].tolist()
    assert ds["mutation_name"].values[0, 0] == f"{table.variant_ref[0]}>{table.variant_alt[0]}"
    assert ds["mutation_mask"].values.all()
    np.testing.assert_array_equal(
        ds["window_start"].values, table["variant_pos"].to_numpy() - 1 - window // 2
    )
    assert ds["variant_pos"].dtype == np.int64 and ds["variant_chrom"].dtype == object
    assert ds["window_valid"].values[-1, window // 2 + 1]  # chr2 ends at 301
    assert not ds["window_valid"].values[-1, window // 2 + 2 :].any()
    assert ds.attrs["window"] == window and ds.attrs["window_center"] == window // 2


def test_dataset_rejects_indels_and_unknown_contigs(genome):
    fa, table = _table(genome)
    bad = table.copy()
    bad.loc[0, "variant_alt"] = "AT"
    with pytest.raises(InputError, match="SNVs"):
        variant_windows_dataset(bad, fa, 10)
    bad = table.copy()
    bad.loc[0, "variant_chrom"] = "1"
    with pytest.raises(InputError, match="'chr' prefix"):
        variant_windows_dataset(bad, fa, 10)
