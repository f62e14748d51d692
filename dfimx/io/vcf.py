"""VCF reading: a validated variant table, one row per alternate allele, checked against
the genome.

:func:`read_variant_table` streams a VCF (plain or bgzipped) through cyvcf2, splits
multi-allelic records into one row per alternate allele, keeps SNVs, counts what it skips
(:class:`VariantReadReport`), and checks every REF against the genome (read through
:func:`dfimx.io.fasta.open_fasta`). Each line is checked before cyvcf2 parses it, so that
errors name the file, the line, the record and what is wrong.

Examples
--------
>>> import tempfile
>>> from dfimx.simulate import simulate_variant_genome
>>> sim = simulate_variant_genome(tempfile.mkdtemp(), contig_length=20_000, window=200,
...                               n_pairs=4, n_lone_motifs=1, n_decoy_motifs=2,
...                               n_random_variants=3)
>>> table, report = read_variant_table(sim.vcf, sim.genome)
>>> len(table) == report.kept == len(sim.truth)
True
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyfaidx

from dfimx.alphabet import BASE_LOOKUP
from dfimx.errors import InputError
from dfimx.io.compressed import GZIP_ERRORS, check_bgzf_complete, is_gzip
from dfimx.io.fasta import contig_lengths, gather_codes, missing_contig_error, open_fasta

__all__ = ["TABLE_COLUMNS", "VariantReadReport", "read_variant_table"]

#: Columns of the table returned by :func:`read_variant_table`, in order.
TABLE_COLUMNS = (
    "variant_chrom",
    "variant_pos",
    "variant_ref",
    "variant_alt",
    "variant_id",
    "record_index",
)

#: Rows whose REF is checked against the genome in one batch.
_REF_BATCH = 8192
_ACGT = frozenset("ACGT")
#: How the genome is named in error messages.
_GENOME = "genome FASTA"


@dataclass
class VariantReadReport:
    """What :func:`read_variant_table` read, kept and skipped.

    Counts are of alternate alleles (table rows), except ``records`` and ``skipped_no_alt``,
    which count VCF records.

    Examples
    --------
    >>> VariantReadReport(vcf="v.vcf", genome="g.fa", records=3, kept=2,
    ...                   skipped_indel=1).summary()
    'v.vcf: 3 records, 2 alleles kept; skipped: 1 indel'
    """

    vcf: str
    genome: str
    records: int = 0
    alleles: int = 0
    kept: int = 0
    skipped_indel: int = 0
    skipped_mnv: int = 0
    skipped_symbolic: int = 0
    skipped_no_alt: int = 0
    skipped_other: int = 0
    skipped_ref_mismatch: int = 0
    ref_mismatch_examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the command line."""
        parts = [
            f"{count} {label}"
            for count, label in (
                (self.skipped_indel, "indel"),
                (self.skipped_mnv, "MNV"),
                (self.skipped_symbolic, "symbolic"),
                (self.skipped_no_alt, "record without ALT"),
                (self.skipped_other, "other (ambiguous base or ALT = REF)"),
                (self.skipped_ref_mismatch, "REF mismatch"),
            )
            if count
        ]
        text = f"{self.vcf}: {self.records} records, {self.kept} alleles kept"
        return text + ("; skipped: " + ", ".join(parts) if parts else "")


def _allele_kind(ref: str, alt: str) -> str:
    if (
        not alt
        or alt in ("*", ".")
        or alt.startswith("<")
        or "[" in alt
        or "]" in alt
        or alt.startswith(".")
        or alt.endswith(".")
    ):
        return "symbolic"
    if len(ref) == len(alt) == 1:
        if ref in _ACGT and alt in _ACGT and ref != alt:
            return "snv"
        return "other"
    if not set(alt) <= set("ACGTN"):
        return "other"
    if len(ref) == len(alt):
        return "mnv"
    return "indel"


def _open_text(path: str) -> io.TextIOBase:
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _check_line(line: str, where: str) -> list[str]:
    fields = line.rstrip("\r\n").split("\t", 8)
    if not line.strip():
        raise InputError(f"{where}: blank line among the records")
    if len(fields) < 8:
        raise InputError(
            f"{where}: malformed record: {len(fields)} tab-separated columns, a VCF record has "
            "at least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)"
        )
    chrom, pos, _vid, ref, alt = fields[:5]
    if not chrom:
        raise InputError(f"{where}: malformed record: empty CHROM")
    if not (pos.isascii() and pos.isdigit()) or int(pos) < 1:
        raise InputError(f"{where}: malformed record: POS {pos!r} is not a positive integer")
    if not ref or not set(ref.upper()) <= set("ACGTN"):
        raise InputError(f"{where}: malformed record: REF {ref!r} is not a DNA sequence")
    if not alt:
        raise InputError(f"{where}: malformed record: empty ALT")
    return fields


def _quiet_htslib(cyvcf2: Any) -> None:
    """Silence htslib's own stderr lines (every problem is reported here, in one line);
    ``CYVCF2_HTSLIB_LOG_LEVEL`` in the environment still sets the level."""
    setter = getattr(cyvcf2.cyvcf2, "set_htslib_log_level", None)  # cyvcf2 >= 0.31.1
    if setter is not None and "CYVCF2_HTSLIB_LOG_LEVEL" not in os.environ:
        setter(0)


def _gzip_damage(path: str) -> str | None:
    """Why a gzip file cannot be decompressed to its end, or None (only on failure paths)."""
    if not is_gzip(path):
        return None
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except GZIP_ERRORS as exc:
        return f"the gzip stream is truncated or damaged: {exc}"
    return None


def _records(path: str) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(record_index, line_number, cyvcf2 record)``.

    The text is read alongside cyvcf2 and each line is checked before cyvcf2 parses it:
    htslib returns garbage records for some malformed lines and crashes on others, and it
    does not report line numbers.
    """
    import cyvcf2

    _quiet_htslib(cyvcf2)
    try:
        vcf = cyvcf2.VCF(path, samples=[], lazy=True)
    except Exception as exc:  # noqa: BLE001 - cyvcf2 raises bare Exception / OSError
        damage = _gzip_damage(path)
        raise InputError(f"{path}: cannot read " + (
            f"the file ({damage})" if damage else f"as a VCF ({exc})")) from None
    try:
        with _open_text(path) as text:
            index = 0
            body = False
            for lineno, line in enumerate(text, start=1):
                if line.startswith("#"):
                    if body:
                        raise InputError(
                            f"{path}: line {lineno}: a '#' line after the #CHROM header line"
                        )
                    body = line.startswith("#CHROM")
                    continue
                where = f"{path}: line {lineno} (record {index + 1})"
                fields = _check_line(line, where)
                try:
                    rec = next(vcf)
                except StopIteration:
                    raise InputError(f"{where}: the VCF reader stopped before this line") from None
                except Exception as exc:  # noqa: BLE001
                    raise InputError(f"{where}: malformed record ({exc})") from None
                if rec.CHROM != fields[0] or rec.POS != int(fields[1]):
                    raise InputError(
                        f"{where}: malformed record: the VCF reader read "
                        f"{rec.CHROM}:{rec.POS} from it"
                    )
                yield index, lineno, rec
                index += 1
    except (*GZIP_ERRORS, OSError) as exc:
        raise InputError(f"{path}: cannot read the file ({exc})") from None
    finally:
        vcf.close()


def read_variant_table(
    vcf_path: str | os.PathLike,
    genome_path: str | os.PathLike,
    *,
    on_ref_mismatch: Literal["error", "skip"] = "error",
    snvs_only: bool = True,
) -> tuple[pd.DataFrame, VariantReadReport]:
    """Read the variants of a VCF, one row per alternate allele, checked against the genome.

    The file is streamed (only the table is held in memory). Multi-allelic records are
    split into one row per ALT. With ``snvs_only`` (the default) only single-nucleotide
    variants are kept; indels, MNVs, symbolic alleles (``<DEL>``, ``*``, breakends), records
    without ALT and ALTs with ambiguous bases are skipped and counted in the report.

    Parameters
    ----------
    vcf_path
        VCF, plain (``.vcf``) or bgzipped/gzipped (``.vcf.gz``). Sample columns are ignored.
    genome_path
        Genome FASTA; its ``.fai`` is built if missing (see :func:`dfimx.io.fasta.open_fasta`).
    on_ref_mismatch
        ``"error"`` (default): a REF that differs from the genome raises :class:`InputError`.
        ``"skip"``: such alleles are dropped and counted (``skipped_ref_mismatch``), with the
        first few listed in ``ref_mismatch_examples``. A position past the end of its contig
        counts as a mismatch.
    snvs_only
        When False, MNVs and indels are kept as well (their whole REF is checked). The window
        functions of this module accept SNVs only.

    Returns
    -------
    table : pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`: ``variant_chrom`` (str), ``variant_pos`` (int64,
        1-based as in the VCF), ``variant_ref``, ``variant_alt`` (upper case), ``variant_id``
        (the VCF ID, or ``chrom:pos:ref:alt`` when it is ``.``) and ``record_index`` (0-based
        number of the record in the file). ``table.attrs`` holds the file names.
    report : VariantReadReport
        Counts of records, kept and skipped alleles.

    Raises
    ------
    InputError
        On a REF mismatch (with ``on_ref_mismatch="error"``), a contig missing from the genome
        (with a hint when only the ``chr`` prefix differs), or a malformed line; the message
        names the file, the line and record, and what is wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "g.fa").write_text(">chr1\\nACGTACGTAC\\n")
    >>> _ = (d / "v.vcf").write_text(
    ...     "##fileformat=VCFv4.2\\n#CHROM\\tPOS\\tID\\tREF\\tALT\\tQUAL\\tFILTER\\tINFO\\n"
    ...     "chr1\\t2\\trs1\\tC\\tA,T\\t.\\t.\\t.\\n"
    ...     "chr1\\t5\\t.\\tA\\tAT\\t.\\t.\\t.\\n")
    >>> table, report = read_variant_table(d / "v.vcf", d / "g.fa")
    >>> table[["variant_pos", "variant_ref", "variant_alt", "variant_id"]].values.tolist()
    [[2, 'C', 'A', 'rs1'], [2, 'C', 'T', 'rs1']]
    >>> report.skipped_indel
    1
    """
    if on_ref_mismatch not in ("error", "skip"):
        raise ValueError(f"on_ref_mismatch must be 'error' or 'skip', got {on_ref_mismatch!r}")
    vcf = os.fspath(vcf_path)
    genome = os.fspath(genome_path)
    if not os.path.isfile(vcf):
        raise InputError(f"{vcf}: VCF file not found")
    check_bgzf_complete(vcf, "VCF")  # cut at a block boundary, it would read as shorter
    fasta = open_fasta(genome, role=_GENOME)
    lengths = contig_lengths(genome, role=_GENOME)
    report = VariantReadReport(vcf=vcf, genome=genome)

    chroms: list[str] = []
    positions: list[int] = []
    refs: list[str] = []
    alts: list[str] = []
    ids: list[str] = []
    records: list[int] = []
    lines: list[int] = []
    keep: list[bool] = []
    checked = 0

    def check_refs(upto: int) -> None:
        nonlocal checked
        if upto <= checked:
            return
        rows = np.arange(checked, upto)
        ok = _refs_match(
            fasta, lengths, chroms[checked:upto], positions[checked:upto], refs[checked:upto]
        )
        for row in rows[~ok]:
            genome_ref = _genome_text(fasta, lengths, chroms[row], positions[row], len(refs[row]))
            rid = ids[row]
            message = (
                f"{vcf}: line {lines[row]} (record {records[row] + 1}, {chroms[row]}:"
                f"{positions[row]} {rid}): REF {refs[row]!r} does not match the genome "
                f"{genome}, which has {genome_ref!r} there"
            )
            if on_ref_mismatch == "error":
                raise InputError(
                    message + " (on_ref_mismatch='skip' skips such records)",
                    option="on_ref_mismatch",
                )
            keep[row] = False
            report.skipped_ref_mismatch += 1
            if len(report.ref_mismatch_examples) < 5:
                report.ref_mismatch_examples.append(message)
        checked = upto

    for index, lineno, rec in _records(vcf):
        report.records += 1
        chrom = rec.CHROM
        ref = rec.REF.upper()
        alt_list = rec.ALT
        if not alt_list:
            report.skipped_no_alt += 1
            continue
        kinds = [(alt.upper(), _allele_kind(ref, alt.upper())) for alt in alt_list]
        report.alleles += len(kinds)
        wanted = []
        for alt, kind in kinds:
            if kind == "snv" or (not snvs_only and kind in ("mnv", "indel")):
                wanted.append(alt)
            else:
                attr = {"indel": "skipped_indel", "mnv": "skipped_mnv"}.get(kind, f"skipped_{kind}")
                setattr(report, attr, getattr(report, attr) + 1)
        if not wanted:
            continue
        if chrom not in lengths:
            check_refs(len(chroms))
            raise missing_contig_error(
                chrom, fasta, f"{vcf}: line {lineno} (record {index + 1}, {chrom}:{rec.POS})",
                genome,
            )
        vid = rec.ID
        for alt in wanted:
            chroms.append(chrom)
            positions.append(rec.POS)
            refs.append(ref)
            alts.append(alt)
            ids.append(vid if vid else f"{chrom}:{rec.POS}:{ref}:{alt}")
            records.append(index)
            lines.append(lineno)
            keep.append(True)
        if len(chroms) - checked >= _REF_BATCH:
            check_refs(len(chroms))
    check_refs(len(chroms))

    table = pd.DataFrame(
        {
            "variant_chrom": pd.Series(chroms, dtype=object),
            "variant_pos": np.asarray(positions, dtype=np.int64),
            "variant_ref": pd.Series(refs, dtype=object),
            "variant_alt": pd.Series(alts, dtype=object),
            "variant_id": pd.Series(ids, dtype=object),
            "record_index": np.asarray(records, dtype=np.int64),
        },
        columns=list(TABLE_COLUMNS),
    )
    if not all(keep):
        table = table[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    report.kept = len(table)
    table.attrs.update({"vcf": vcf, "genome": genome})
    return table, report


def _refs_match(
    fasta: pyfaidx.Fasta,
    lengths: dict[str, int],
    chroms: Sequence[str],
    positions: Sequence[int],
    refs: Sequence[str],
) -> np.ndarray:
    chroms_a = np.asarray(chroms, dtype=object)
    pos = np.asarray(positions, dtype=np.int64)
    ref_len = np.fromiter((len(r) for r in refs), dtype=np.int64, count=len(refs))
    ok = np.zeros(len(refs), dtype=bool)
    for chrom in dict.fromkeys(chroms):
        for length in np.unique(ref_len[chroms_a == chrom]):
            rows = np.flatnonzero((chroms_a == chrom) & (ref_len == length))
            codes, valid = gather_codes(fasta, chrom, pos[rows] - 1, int(length), lengths[chrom])
            text = "".join(refs[r] for r in rows).encode("ascii")
            ref_codes = np.maximum(BASE_LOOKUP[np.frombuffer(text, np.uint8)], -1)
            ok[rows] = valid.all(axis=1) & (codes == ref_codes.reshape(len(rows), -1)).all(axis=1)
    return ok


def _genome_text(
    fasta: pyfaidx.Fasta, lengths: dict[str, int], chrom: str, pos: int, length: int
) -> str:
    if pos > lengths[chrom]:
        return f"nothing (the contig ends at {lengths[chrom]})"
    return str(fasta.faidx.fetch(chrom, pos, min(pos + length - 1, lengths[chrom]))).upper()
