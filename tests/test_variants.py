"""Tests of dfimx.variants (VCF + genome -> variant table and windows) and dfimx.genome_sim."""

from __future__ import annotations

import os
from pathlib import Path

import dask
import numpy as np
import pytest

from dfimx import variables
from dfimx.alphabet import onehot_to_strings
from dfimx.errors import InputError
from dfimx.genome_sim import simulate_variant_genome
from dfimx.motifs import load_motifs
from dfimx.variants import (
    TABLE_COLUMNS,
    extract_windows,
    open_genome,
    read_variant_table,
    variant_windows_dataset,
    window_starts,
)

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _write_fasta(path: Path, contigs: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name} description\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    return path


def _read_fasta_text(path: Path) -> dict[str, str]:
    """An independent FASTA reader for the tests."""
    out: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = []
        elif name is not None:
            out[name].append(line.strip())
    return {k: "".join(v).upper() for k, v in out.items()}


@pytest.fixture
def genome(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    rng = np.random.default_rng(7)
    contigs = {
        "chr1": "".join(rng.choice(list("ACGT"), 523)),
        "chr2": "".join(rng.choice(list("ACGT"), 301)),
    }
    # A stretch of N and soft-masked bases on chr2.
    contigs["chr2"] = contigs["chr2"][:100] + "NNNNN" + contigs["chr2"][105:200].lower() + (
        contigs["chr2"][200:]
    )
    return _write_fasta(tmp_path / "genome.fa", contigs, width=50), contigs


def _vcf(path: Path, *records: str) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in records))
    return path


def _rec(chrom: str, pos: int, ref: str, alt: str, vid: str = ".") -> str:
    return f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t."


def test_multiallelic_split_ids_and_columns(tmp_path, genome):
    fa, seqs = genome
    b1, b2 = seqs["chr1"][9], seqs["chr1"][19]
    alts1 = [b for b in "ACGT" if b != b1]
    vcf = _vcf(
        tmp_path / "v.vcf",
        _rec("chr1", 10, b1, ",".join(alts1), "rs10"),
        _rec("chr1", 20, b2, "ACGT".replace(b2, "")[0]),
    )
    table, report = read_variant_table(vcf, fa)
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table["variant_alt"].tolist()[:3] == alts1
    assert table["variant_id"].tolist()[:3] == ["rs10"] * 3
    assert table["record_index"].tolist() == [0, 0, 0, 1]
    assert table["variant_pos"].dtype == np.int64
    alt2 = table["variant_alt"].iloc[3]
    assert table["variant_id"].iloc[3] == f"chr1:20:{b2}:{alt2}"
    assert (report.records, report.kept, report.alleles) == (2, 4, 4)


def test_indels_and_symbolic_alleles_are_skipped_and_counted(tmp_path, genome):
    fa, seqs = genome
    s = seqs["chr1"]
    vcf = _vcf(
        tmp_path / "v.vcf",
        _rec("chr1", 5, s[4], s[4] + "T"),  # insertion
        _rec("chr1", 6, s[5:8], s[5]),  # deletion
        _rec("chr1", 10, s[9:11], "".join("ACGT".replace(c, "")[0] for c in s[9:11])),  # MNV
        _rec("chr1", 12, s[11], "<DEL>"),
        _rec("chr1", 13, s[12], "*," + "ACGT".replace(s[12], "")[0]),  # one SNV kept
        _rec("chr1", 14, s[13], "."),
        _rec("chr1", 15, s[14], "N"),
    )
    table, report = read_variant_table(vcf, fa)
    assert len(table) == 1 and table["variant_pos"].tolist() == [13]
    assert report.skipped_indel == 2
    assert report.skipped_mnv == 1
    assert report.skipped_symbolic == 2
    assert report.skipped_no_alt == 1
    assert report.skipped_other == 1
    assert "2 indel" in report.summary()
    full, report2 = read_variant_table(vcf, fa, snvs_only=False)
    assert sorted(full["variant_pos"].tolist()) == [5, 6, 10, 13]
    assert report2.skipped_indel == 0


def test_ref_mismatch_error_names_file_record_and_bases(tmp_path, genome):
    fa, seqs = genome
    good = seqs["chr1"][29]
    wrong = "ACGT".replace(good, "")[0]
    alt = "ACGT".replace(good, "").replace(wrong, "")[0]
    vcf = _vcf(
        tmp_path / "v.vcf",
        _rec("chr1", 10, seqs["chr1"][9], "ACGT".replace(seqs["chr1"][9], "")[0]),
        _rec("chr1", 30, wrong, alt, "rsBAD"),
        _rec("chr2", 302, "A", "C", "rsPAST"),  # past the end of chr2 (length 301)
    )
    with pytest.raises(InputError) as err:
        read_variant_table(vcf, fa)
    msg = str(err.value)
    assert str(vcf) in msg and "line 4" in msg and "record 2" in msg
    assert "chr1:30" in msg and "rsBAD" in msg
    assert f"REF {wrong!r}" in msg and f"has {good!r}" in msg

    table, report = read_variant_table(vcf, fa, on_ref_mismatch="skip")
    assert table["variant_pos"].tolist() == [10]
    assert report.skipped_ref_mismatch == 2
    assert "rsBAD" in report.ref_mismatch_examples[0]
    assert "contig ends at 301" in report.ref_mismatch_examples[1]


def test_ref_mismatch_is_reported_in_file_order_across_batches(tmp_path, genome, monkeypatch):
    import dfimx.variants as v

    monkeypatch.setattr(v, "_REF_BATCH", 2)
    fa, seqs = genome
    s = seqs["chr1"]
    records = [_rec("chr1", p, s[p - 1], "ACGT".replace(s[p - 1], "")[0]) for p in range(1, 8)]
    records[4] = _rec("chr1", 5, "ACGT".replace(s[4], "")[0], s[4], "first_bad")
    records[6] = _rec("chr1", 7, "ACGT".replace(s[6], "")[0], s[6], "second_bad")
    with pytest.raises(InputError, match="first_bad"):
        read_variant_table(_vcf(tmp_path / "v.vcf", *records), fa)


@pytest.mark.parametrize(
    ("vcf_chrom", "expected"),
    [("1", "'chr1'"), ("chrX", "genome's contigs are: chr1, chr2")],
)
def test_unknown_contig_error_and_chr_prefix_hint(tmp_path, genome, vcf_chrom, expected):
    fa, _ = genome
    vcf = _vcf(tmp_path / "v.vcf", _rec(vcf_chrom, 10, "A", "C", "rs1"))
    with pytest.raises(InputError) as err:
        read_variant_table(vcf, fa)
    msg = str(err.value)
    assert f"contig {vcf_chrom!r} is not in the genome" in msg and expected in msg
    assert "line 3" in msg and str(vcf) in msg
    if vcf_chrom == "1":
        assert "'chr' prefix" in msg


def test_chr_prefix_hint_the_other_way(tmp_path):
    fa = _write_fasta(tmp_path / "g.fa", {"1": "ACGTACGTAC"})
    vcf = _vcf(tmp_path / "v.vcf", _rec("chr1", 2, "C", "A"))
    with pytest.raises(InputError, match=r"the genome has '1'.*'chr' prefix"):
        read_variant_table(vcf, fa)


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("chr1\tabc\t.\tA\tC\t.\t.\t.", "POS 'abc'"),
        ("chr1\t12\t.\tA", "4 tab-separated columns"),
        ("chr9\t10", "2 tab-separated columns"),  # htslib crashes on this line
        ("chr1 10 . A C . . .", "1 tab-separated columns"),
        ("", "blank line"),
        ("chr1\t12\t.\tA-\tC\t.\t.\t.", "REF 'A-'"),
        ("#chr1\t12\t.\tA\tC\t.\t.\t.", "'#' line"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, genome, line, what):
    fa, seqs = genome
    first = _rec("chr1", 10, seqs["chr1"][9], "ACGT".replace(seqs["chr1"][9], "")[0])
    vcf = tmp_path / "bad.vcf"
    vcf.write_text(HEADER + first + "\n" + line + "\n" + first + "\n")
    with pytest.raises(InputError) as err:
        read_variant_table(vcf, fa)
    msg = str(err.value)
    assert str(vcf) in msg and "line 4" in msg and what in msg


def test_not_a_vcf_and_missing_files(tmp_path, genome):
    fa, _ = genome
    with pytest.raises(InputError, match="VCF file not found"):
        read_variant_table(tmp_path / "nope.vcf", fa)
    junk = tmp_path / "junk.vcf"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="junk.vcf"):
        read_variant_table(junk, fa)
    vcf = _vcf(tmp_path / "v.vcf", _rec("chr1", 1, "A", "C"))
    with pytest.raises(InputError, match="genome FASTA not found"):
        read_variant_table(vcf, tmp_path / "nope.fa")


def test_bgzipped_vcf_reads_like_plain(tmp_path, genome):
    import cyvcf2

    fa, seqs = genome
    s = seqs["chr1"]
    records = [_rec("chr1", p, s[p - 1], "ACGT".replace(s[p - 1], "")[p % 3]) for p in (3, 9, 40)]
    plain = _vcf(tmp_path / "v.vcf", *records)
    gz = tmp_path / "v.vcf.gz"
    writer = cyvcf2.Writer.from_string(str(gz), HEADER, mode="wz")
    for line in records:
        writer.write_record(writer.variant_from_string(line))
    writer.close()
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    a, _ = read_variant_table(plain, fa)
    b, _ = read_variant_table(gz, fa)
    assert a.equals(b)


def test_genome_index_goes_to_cache_when_folder_is_read_only(tmp_path, monkeypatch):
    import dfimx.variants as v

    folder = tmp_path / "ro"
    folder.mkdir()
    fa = _write_fasta(folder / "g.fa", {"c1": "ACGTTGCA"})
    monkeypatch.setattr(v.os, "access", lambda path, mode: False)
    fasta = open_genome(fa)
    assert fasta["c1"][1:4] == "CGT"
    assert not (folder / "g.fa.fai").exists()
    assert Path(fasta.faidx.indexname).parent.name == "dfimx-fai"


def test_malformed_genome_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">c1\nACGTACGT\nACG\nACGTACGT\n")
    with pytest.raises(InputError, match="bad.fa"):
        open_genome(bad)


@pytest.mark.parametrize("window", [1, 8, 51, 100])
def test_windows_equal_genome_slices_and_pad_off_contig_ends(genome, window):
    fa, _ = genome
    text = _read_fasta_text(fa)
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


def _table(tmp_path, genome):
    fa, seqs = genome
    rng = np.random.default_rng(3)
    records = []
    for i, p in enumerate(sorted(rng.choice(np.arange(1, 520), 25, replace=False))):
        ref = seqs["chr1"][p - 1]
        alts = "ACGT".replace(ref, "")
        alt = ",".join(alts[:2]) if i % 5 == 0 else alts[0]
        records.append(_rec("chr1", int(p), ref, alt, f"v{i}"))
    last = seqs["chr2"][299].upper()
    records.append(_rec("chr2", 300, last, "A" if last != "A" else "C", "v_end"))
    table, _ = read_variant_table(_vcf(tmp_path / "v.vcf", *records), fa)
    return fa, table


def test_lazy_dataset_computes_nothing_and_is_chunking_invariant(tmp_path, genome):
    fa, table = _table(tmp_path, genome)
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


def test_dataset_rejects_indels_and_unknown_contigs(tmp_path, genome):
    fa, table = _table(tmp_path, genome)
    bad = table.copy()
    bad.loc[0, "variant_alt"] = "AT"
    with pytest.raises(InputError, match="SNVs"):
        variant_windows_dataset(bad, fa, 10)
    bad = table.copy()
    bad.loc[0, "variant_chrom"] = "1"
    with pytest.raises(InputError, match="'chr' prefix"):
        variant_windows_dataset(bad, fa, 10)


def test_genome_sim_round_trip(tmp_path):
    kwargs = dict(
        contig_length=30_000, window=200, n_pairs=12, n_lone_motifs=4, n_decoy_motifs=6,
        n_random_variants=10, seed=5,
    )
    sim = simulate_variant_genome(tmp_path / "a", **kwargs)
    table, report = read_variant_table(sim.vcf, sim.genome)  # every REF matches the genome
    assert report.kept == len(sim.truth) == 32
    assert table["variant_id"].tolist() == sim.truth["variant_id"].tolist()
    if sim.vcf_gz is not None:
        assert read_variant_table(sim.vcf_gz, sim.genome)[0].equals(table)
    text = _read_fasta_text(sim.genome)
    assert {k: len(v) for k, v in text.items()} == {"chr1": 30_000, "chr2": 30_000}
    gc = np.mean([b in "GC" for b in text["chr1"]])
    assert abs(gc - 0.46) < 0.02
    pwms = load_motifs(sim.motifs)
    truth = sim.truth
    for r in truth.itertuples(index=False):
        assert text[r.chrom][r.pos - 1] == r.ref
        if r.design == "random":
            near = sim.planted[(sim.planted.chrom == r.chrom)
                               & (sim.planted.end > r.pos - 1 - 100)
                               & (sim.planted.start < r.pos + 100)]
            assert near.empty
            continue
        assert r.motif_start <= r.pos - 1 < r.motif_end
        hit = sim.planted[(sim.planted.chrom == r.chrom) & (sim.planted.start == r.motif_start)]
        assert hit["name"].tolist() == [r.motif]
        pwm = pwms[r.motif]
        col = r.pos - 1 - r.motif_start
        ref, alt = "ACGT".index(r.ref), "ACGT".index(r.alt)
        if r.motif_strand == "-":
            col, ref, alt = len(pwm) - 1 - col, 3 - ref, 3 - alt
        assert pwm[col, ref] == pwm.max() and pwm[col, alt] == pwm[col].min()
        if r.kind == "breaks_pair_motif":
            assert {r.motif, r.partner_motif} == set(sim.pair)
            lo = r.pos - 1 - sim.window // 2
            assert lo <= r.partner_start and r.partner_end <= lo + sim.window
        else:
            assert r.partner_motif == ""
    assert set(truth["design"]) == {"pair", "lone", "decoy_motif", "random"}
    again = simulate_variant_genome(tmp_path / "b", **kwargs)
    assert again.truth.equals(sim.truth)
    assert again.genome.read_bytes() == sim.genome.read_bytes()
    assert again.vcf.read_bytes() == sim.vcf.read_bytes()
    other = simulate_variant_genome(tmp_path / "c", **{**kwargs, "seed": 6})
    assert other.genome.read_bytes() != sim.genome.read_bytes()
    fai = (Path(str(sim.genome) + ".fai")).read_text().split()
    assert fai[:5] == ["chr1", "30000", "6", "60", "61"]
    assert os.path.getmtime(str(sim.genome) + ".fai") >= os.path.getmtime(sim.genome)


def test_genome_sim_checks_its_layout(tmp_path):
    with pytest.raises(ValueError, match="window // 2"):
        simulate_variant_genome(tmp_path, window=40)
    with pytest.raises(ValueError, match="longer"):
        simulate_variant_genome(tmp_path, contig_length=5_000, n_pairs=50)
