"""``dfimx scan-variants``: VCF + genome + model -> DFIM store, on a simulated genome."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from dfimx.cli import main
from dfimx.run import scan_variants
from dfimx.simulate import simulate_variant_genome
from dfimx.store import is_complete, open_result
from dfimx.tables import to_dataframe
from dfimx.testing import assert_p_values_agree, assert_same_to_round_off

WINDOW = 200  # the input length of the conftest ``demo_model``
# the truth checks run with the defaults of scan-variants
TRUTH_OPTIONS: dict = {}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    # forward-strand motifs, as in the model's training sequences
    return simulate_variant_genome(tmp_path_factory.mktemp("vsim"), window=WINDOW, seed=0,
                                   revcomp=0.0)


@pytest.fixture(scope="module")
def scan(sim, demo_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("vscan") / "scan.zarr"
    scan_variants(demo_model, sim.genome, sim.vcf_gz, window=WINDOW, motifs=sim.motifs,
                  output=out, chunk_size=40, progress=False, **TRUTH_OPTIONS)
    return str(out)


@pytest.fixture(scope="module")
def table(scan, sim):
    df = to_dataframe(open_result(scan))
    truth = sim.truth.set_index("variant_id")
    for col in ("kind", "design", "partner_motif", "partner_start"):
        df[col] = truth.loc[df["variant_id"], col].to_numpy()
    return df


def _cli(capsys, args):
    rc = main(args)
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()]
    return rc, err, captured.out


def test_motif_breaking_variants_interact_with_the_partner_and_decoys_do_not(table, sim):
    pair = sim.truth[sim.truth["kind"] == "breaks_pair_motif"]["variant_id"]
    partner = table[(table["kind"] == "breaks_pair_motif")
                    & (table["target_name"] == table["partner_motif"])
                    & (table["target_genome_start"] == table["partner_start"])]
    found = partner["variant_id"].unique()
    # the partner is found by the PWM scan (p < 1e-4) for most pair loci
    assert len(found) >= 0.9 * len(pair), (len(found), len(pair))
    significant = (partner.groupby("variant_id")["q_value"].min() < 0.05).mean()
    assert significant >= 0.9, significant
    decoys = sim.truth[sim.truth["kind"] == "decoy"]["variant_id"]
    flagged = table[(table["kind"] == "decoy") & (table["q_value"] < 0.05)]["variant_id"]
    assert flagged.nunique() <= 0.05 * len(decoys), flagged.unique()


def test_store_layout_coordinates_and_provenance(scan, sim):
    ds = open_result(scan)
    assert ds.attrs["plan"] == "variants"
    assert ds.attrs["null_level"] == "distance"
    assert json.loads(ds.attrs["dfimx_settings"])["null_keep_sources"] is True
    inputs = json.loads(ds.attrs["inputs"])
    assert inputs["genome"] == str(sim.genome) and inputs["vcf"] == str(sim.vcf_gz)
    assert inputs["motifs"] == str(sim.motifs)
    report = json.loads(ds.attrs["variant_read_report"])
    assert report["kept"] == len(sim.truth) and report["skipped_ref_mismatch"] == 0
    for name in ("variant_chrom", "variant_pos", "variant_ref", "variant_alt", "variant_id",
                 "target_chrom"):
        assert ds[name].dims == ("seq",)
    for name in ("target_start", "target_end", "target_kind", "response_name"):
        assert ds[name].dims == ("seq", "response")
    d = ds.load()
    mask = d["response_mask"].values
    ws = d["window_start"].values[:, None]
    np.testing.assert_array_equal(d["target_start"].values[mask],
                                  (ws + d["response_start"].values)[mask])
    np.testing.assert_array_equal(d["target_end"].values[mask],
                                  (ws + d["response_end"].values)[mask])
    assert (d["target_start"].values[~mask] == -1).all()
    # the variant is the source, at the window centre, and no motif target overlaps it
    assert (d["mutation_start"].values == WINDOW // 2).all()
    kind = d["target_kind"].values
    motif = mask & (kind == "motif")
    over = (d["response_start"].values <= WINDOW // 2) & (d["response_end"].values > WINDOW // 2)
    assert motif.any() and not (motif & over).any()
    # targets of kind "variant" are the other VCF sites in the window
    sites = set(zip(sim.truth["chrom"], sim.truth["pos"] - 1, strict=True))
    var = mask & (kind == "variant")
    chrom = np.broadcast_to(d["target_chrom"].values[:, None], mask.shape)
    assert all((c, s) in sites for c, s in zip(chrom[var], d["target_start"].values[var],
                                               strict=True))
    assert np.isfinite(d["interaction_q_value"].values[mask[:, None, :, None]]).all()


def test_export_has_variant_and_genome_target_columns(scan, tmp_path, capsys):
    out = tmp_path / "interactions.tsv"
    rc, err, _ = _cli(capsys, ["export", scan, "-o", str(out)])
    assert rc == 0, err
    df = pd.read_csv(out, sep="\t")
    for col in ("seq_id", "source_name", "target_name", "score", "p_value", "q_value",
                "variant_chrom", "variant_pos", "variant_ref", "variant_alt", "variant_id",
                "target_kind", "target_chrom", "target_genome_start", "target_genome_end"):
        assert col in df.columns, col
    width = df["target_genome_end"] - df["target_genome_start"]
    assert (width == df["target_end"] - df["target_start"]).all()
    # variant position (1-based) = window start + centre + 1
    start = df["target_genome_start"] - df["target_start"]
    assert (df["variant_pos"] == start + WINDOW // 2 + 1).all()
    assert set(df["target_kind"]) <= {"motif", "variant"}


def test_result_does_not_depend_on_chunk_size(sim, demo_model, tmp_path):
    kw = dict(window=WINDOW, motifs=sim.motifs, progress=False, null_draws=3, **TRUTH_OPTIONS)
    a = open_result(scan_variants(demo_model, sim.genome, sim.vcf, output=tmp_path / "a.zarr",
                                  chunk_size=64, **kw)).load()
    b = open_result(scan_variants(demo_model, sim.genome, sim.vcf, output=tmp_path / "b.zarr",
                                  chunk_size=23, **kw)).load()
    for name in ("response_start", "response_end", "response_name", "response_mask",
                 "target_start", "motif_targets_found", "cis_variants_found"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    # the numbers agree to float32 round-off (a row's last bits may change with its place
    # in a model batch), the p- and q-values but for ties within that round-off
    for name in ("interaction_score", "interaction_profile", "prediction",
                 "mutant_prediction"):
        assert_same_to_round_off(a[name].values, b[name].values, name=name)
    for name in ("interaction_p_value", "interaction_q_value"):
        assert_p_values_agree(a[name].values, b[name].values, name=name)


def _vcf_lines(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        lines = fh.read().splitlines()
    header = [x for x in lines if x.startswith("#")]
    return header, [x for x in lines if not x.startswith("#")]


def _genome_base(sim, chrom, pos):
    from dfimx.io.fasta import open_fasta as open_genome

    return open_genome(sim.genome)[chrom][pos - 1 : pos]


def _write_vcf(path, header, records):
    path.write_text("\n".join(header + records) + "\n")
    return str(path)


def test_bad_vcf_records_exit_2_before_any_store(sim, demo_model, tmp_path, capsys):
    header, records = _vcf_lines(sim.vcf)
    fields = records[3].split("\t")
    wrong = next(b for b in "ACGT" if b not in (fields[3], fields[4]))
    mismatch = records[:3] + ["\t".join(fields[:3] + [wrong] + fields[4:])] + records[4:6]
    cases = [
        (mismatch, f"line {len(header) + 4} (record 4, {fields[0]}:{fields[1]}"),
        (records[:2] + ["chrZ\t100\tx\tA\tC\t.\t.\t."], "contig 'chrZ' is not in the genome"),
        (records[:2] + ["chr1\tten\tx\tA\tC\t.\t.\t."], "POS 'ten' is not a positive integer"),
        (records[:2] + ["chr1\t100\tx\tA"], "malformed record"),
    ]
    for i, (recs, message) in enumerate(cases):
        vcf = _write_vcf(tmp_path / f"bad{i}.vcf", header, recs)
        out = tmp_path / f"out{i}.zarr"
        rc, err, _ = _cli(capsys, ["scan-variants", "--model", demo_model, "--genome",
                                   str(sim.genome), "--vcf", vcf, "--window", str(WINDOW),
                                   "-o", str(out), "--no-progress", "--null", "none"])
        assert rc == 2, (message, err)
        assert len(err) == 1 and err[0].startswith("dfimx: error: "), err
        assert f"bad{i}.vcf" in err[0] and message in err[0], (message, err[0])
        assert not out.exists() and not is_complete(out)
    # the model's input length and the window must agree
    rc, err, _ = _cli(capsys, ["scan-variants", "--model", demo_model, "--genome",
                               str(sim.genome), "--vcf", str(sim.vcf), "--window", "150",
                               "-o", str(tmp_path / "w.zarr"), "--no-progress"])
    assert rc == 2 and "expects sequences of length 200" in err[0], err


def test_skip_mismatches_edges_and_no_motifs(sim, demo_model, tmp_path, capsys):
    header, records = _vcf_lines(sim.vcf)
    fields = records[3].split("\t")
    wrong = next(b for b in "ACGT" if b not in (fields[3], fields[4]))
    edge = [f"chr1\t{p}\tedge{p}\t{_genome_base(sim, 'chr1', p)}\t"
            f"{'A' if _genome_base(sim, 'chr1', p) != 'A' else 'C'}\t.\t.\t." for p in (5, 30)]
    recs = edge + records[:3] + ["\t".join(fields[:3] + [wrong] + fields[4:])] + records[4:8]
    vcf = _write_vcf(tmp_path / "skip.vcf", header, recs)
    out = tmp_path / "skip.zarr"
    rc, err, stdout = _cli(capsys, ["scan-variants", "--model", demo_model, "--genome",
                                    str(sim.genome), "--vcf", vcf, "-o", str(out),
                                    "--on-ref-mismatch", "skip", "--no-progress",
                                    "--null-draws", "2"])
    assert rc == 0, err
    assert "1 REF mismatch" in stdout
    ds = open_result(out).load()
    report = json.loads(ds.attrs["variant_read_report"])
    assert report["skipped_ref_mismatch"] == 1 and report["kept"] == len(recs) - 1
    assert "motifs" not in json.loads(ds.attrs["inputs"])
    # without motifs the targets are the other variants in the window: edge5 <-> edge30
    kinds = ds["target_kind"].values[ds["response_mask"].values]
    assert set(kinds) == {"variant"}
    first = ds.isel(seq=0)
    assert first["variant_id"].item() == "edge5"
    valid = first["window_valid"].values
    assert not valid[: WINDOW // 2 - 4].any() and valid[WINDOW // 2 - 4 :].all()
    m = first["response_mask"].values
    names = first["response_name"].values[m].tolist()
    assert "edge30" in names
    assert first["target_start"].values[m][names.index("edge30")] == 29
    assert (first["target_start"].values[m] >= 0).all()
    # off-contig positions are N and masked in the profile
    prof = first["interaction_profile"].values[0, :, 0]
    assert np.isnan(prof[~valid]).all() and np.isfinite(np.delete(prof[valid], 4)).all()
    assert (first["seq_onehot"].values[~valid] == 0).all()
    q = ds["interaction_q_value"].values
    assert np.isfinite(q[ds["response_mask"].values[:, None, :, None]]).all()
