"""VCF reading (dfimx.io.vcf): one row per alternate allele, checked against the genome."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from dfimx.errors import InputError
from dfimx.io.fasta import write_fasta
from dfimx.io.vcf import TABLE_COLUMNS, read_variant_table

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


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
    assert "on_ref_mismatch='skip'" in msg and err.value.option == "on_ref_mismatch"

    table, report = read_variant_table(vcf, fa, on_ref_mismatch="skip")
    assert table["variant_pos"].tolist() == [10]
    assert report.skipped_ref_mismatch == 2
    assert "rsBAD" in report.ref_mismatch_examples[0]
    assert "contig ends at 301" in report.ref_mismatch_examples[1]


def test_ref_mismatch_is_reported_in_file_order_across_batches(tmp_path, genome, monkeypatch):
    import dfimx.io.vcf as v

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
    fa = write_fasta(tmp_path / "g.fa", {"1 description": "ACGTACGTAC"})
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


def test_bgzipped_vcf_cut_at_a_block_boundary_is_refused(tmp_path, genome):
    """Finding 7: a bgzipped VCF cut at a block boundary read as a shorter VCF (102 of 160
    records, exit 0); it must be one line naming the file."""
    from dfimx.io.compressed import BGZF_EOF, write_bgzf

    fa, seqs = genome
    s = seqs["chr1"]
    records = [_rec("chr1", p, s[p - 1], "ACGT".replace(s[p - 1], "")[p % 3])
               for p in range(1, 161) if s[p - 1] in "ACGT"]
    text = (HEADER + "".join(r + "\n" for r in records)).encode()
    whole = write_bgzf(tmp_path / "v.vcf.gz", text, block=512)
    table, _ = read_variant_table(whole, fa)
    assert len(table) == len(records)
    raw = whole.read_bytes()
    blocks, at = [], 0
    while at < len(raw):  # block offsets, from each block's BSIZE field
        blocks.append(at)
        at += int.from_bytes(raw[at + 16:at + 18], "little") + 1
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(raw[: blocks[len(blocks) * 2 // 3]])  # a whole number of blocks
    assert gzip.decompress(cut.read_bytes()) == text[: len(gzip.decompress(cut.read_bytes()))]
    with pytest.raises(InputError, match=r"cut\.vcf\.gz: the VCF is truncated: a bgzip file "
                                         "ends with a 28-byte end-of-file block") as err:
        read_variant_table(cut, fa)
    assert "\n" not in str(err.value)
    assert raw.endswith(BGZF_EOF)


def test_truncated_plain_gzip_vcf_is_one_line(tmp_path, genome):
    fa, seqs = genome
    s = seqs["chr1"]
    records = [_rec("chr1", p, s[p - 1], "ACGT".replace(s[p - 1], "")[0])
               for p in range(1, 90) if s[p - 1] in "ACGT"]
    packed = gzip.compress((HEADER + "".join(r + "\n" for r in records)).encode())
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(packed[: len(packed) - 30])
    with pytest.raises(InputError, match=r"cut\.vcf\.gz: cannot read the file \(.*truncated"):
        read_variant_table(cut, fa)


def test_htslib_prints_nothing_of_its_own(tmp_path, genome, capfd):
    """A record on a contig without a ##contig line (most real VCFs) made htslib print a
    warning to stderr, a second line beside dfimx's own."""
    fa, seqs = genome
    vcf = _vcf(tmp_path / "v.vcf", _rec("chr1", 10, seqs["chr1"][9],
                                        "ACGT".replace(seqs["chr1"][9], "")[0]))
    table, _ = read_variant_table(vcf, fa)
    assert len(table) == 1
    assert capfd.readouterr().err == ""
