"""Variants from a VCF and a genome FASTA: a validated variant table and centred windows.

Three layers, from eager to lazy:

* :func:`read_variant_table` streams a VCF (plain or bgzipped) through cyvcf2, splits
  multi-allelic records into one row per alternate allele, keeps SNVs, counts what it skips,
  and checks every REF against the genome (read through pyfaidx).
* :func:`extract_windows` is the array kernel that Dask workers run: it opens the genome
  itself (once per process) and reads the windows of one chunk of variants.
* :func:`variant_windows_dataset` wraps both in a lazy :class:`xarray.Dataset` that follows
  the dfimx data contract (``seq`` = one variant allele).

Window convention: a window of length ``W`` centred on a variant at 1-based position ``pos``
starts at the 0-based genome coordinate ``pos - 1 - W // 2`` and the variant sits at window
index ``W // 2``. For even ``W`` the window holds ``W // 2`` bases before the variant and
``W // 2 - 1`` after it; for odd ``W``, ``W // 2`` on each side. Positions that fall off a
contig are N (all-zero one-hot rows) and ``False`` in the validity mask.

Examples
--------
>>> import tempfile
>>> from dfimx.genome_sim import simulate_variant_genome
>>> sim = simulate_variant_genome(tempfile.mkdtemp(), contig_length=20_000, window=200,
...                               n_pairs=4, n_lone_motifs=1, n_decoy_motifs=2,
...                               n_random_variants=3)
>>> table, report = read_variant_table(sim.vcf, sim.genome)
>>> len(table) == report.kept == len(sim.truth)
True
>>> ds = variant_windows_dataset(table, sim.genome, 200, chunk_size=4)
>>> ds["seq_onehot"].shape
(10, 200, 4)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import numpy as np
import pandas as pd
import pyfaidx
import xarray as xr

from dfimx.alphabet import BASE_LOOKUP, BASES, N_BASES, codes_to_onehot
from dfimx.errors import InputError
from dfimx.variables import string_array

__all__ = [
    "TABLE_COLUMNS",
    "VariantReadReport",
    "contig_lengths",
    "extract_windows",
    "open_genome",
    "read_variant_table",
    "unique_seq_ids",
    "variant_windows_dataset",
    "window_center",
    "window_starts",
]

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
#: Windows closer than this (bases) are read from the genome in one pyfaidx call.
_MAX_GAP = 1 << 16
#: Largest stretch of genome read in one pyfaidx call.
_MAX_SPAN = 1 << 22
_ACGT = frozenset("ACGT")


# --------------------------------------------------------------------------- genome access


def _index_cache_path(fasta: str) -> str:
    digest = hashlib.blake2b(fasta.encode(), digest_size=8).hexdigest()
    folder = Path(tempfile.gettempdir()) / "dfimx-fai"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{digest}-{Path(fasta).name}.fai")


def _fai_is_current(fasta: str, fai: str) -> bool:
    return os.path.exists(fai) and os.path.getmtime(fai) >= os.path.getmtime(fasta)


def _open_fasta(real: str, shown: str) -> pyfaidx.Fasta:
    kwargs: dict[str, Any] = {"as_raw": True, "sequence_always_upper": True}
    default_fai = real + ".fai"
    writable = os.access(os.path.dirname(real) or ".", os.W_OK)
    if not _fai_is_current(real, default_fai) and not writable:
        kwargs["indexname"] = _index_cache_path(real)
    try:
        return pyfaidx.Fasta(real, **kwargs)
    except pyfaidx.FastaIndexingError as exc:
        raise InputError(f"{shown}: cannot index the genome FASTA: {exc}") from None
    except pyfaidx.UnsupportedCompressionFormat as exc:
        raise InputError(f"{shown}: {exc}") from None
    except OSError as exc:
        if "indexname" in kwargs:
            raise InputError(f"{shown}: cannot read the genome FASTA: {exc}") from None
    # The folder looked writable but the index could not be written there.
    kwargs["indexname"] = _index_cache_path(real)
    try:
        return pyfaidx.Fasta(real, **kwargs)
    except (OSError, pyfaidx.FastaIndexingError) as exc:
        raise InputError(f"{shown}: cannot read the genome FASTA: {exc}") from None


_GENOMES: dict[tuple[str, int, int], pyfaidx.Fasta] = {}
_GENOMES_LOCK = threading.Lock()


def open_genome(path: str | os.PathLike) -> pyfaidx.Fasta:
    """Open a genome FASTA with pyfaidx, once per process.

    The ``.fai`` index is built next to the FASTA when it is missing or stale; when that
    folder is read-only, the index goes to ``$TMPDIR/dfimx-fai/`` instead. The open
    :class:`pyfaidx.Fasta` is cached per process and path (and reopened when the file
    changes), so Dask tasks that read windows do not reopen the genome.

    Parameters
    ----------
    path
        Genome FASTA (plain text, or bgzip when Biopython is installed).

    Returns
    -------
    pyfaidx.Fasta
        Opened with ``as_raw=True`` and ``sequence_always_upper=True``.

    Raises
    ------
    InputError
        When the file is missing or is not a valid FASTA.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGT\\n")
    >>> open_genome(fa)["c1"][2:5]
    'GTA'
    >>> open_genome(fa) is open_genome(str(fa))
    True
    """
    shown = os.fspath(path)
    real = os.path.realpath(shown)
    try:
        st = os.stat(real)
    except OSError:
        raise InputError(f"{shown}: genome FASTA not found") from None
    key = (real, st.st_mtime_ns, st.st_size)
    with _GENOMES_LOCK:
        fasta = _GENOMES.get(key)
        if fasta is None:
            for old in [k for k in _GENOMES if k[0] == real]:
                _GENOMES.pop(old).close()
            fasta = _open_fasta(real, shown)
            _GENOMES[key] = fasta
    return fasta


def contig_lengths(genome_path: str | os.PathLike) -> dict[str, int]:
    """Contig name -> length of a genome FASTA (from its ``.fai`` index).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGT\\n>c2\\nAC\\n")
    >>> contig_lengths(fa)
    {'c1': 8, 'c2': 2}
    """
    fasta = open_genome(genome_path)
    return {name: int(rec.rlen) for name, rec in fasta.faidx.index.items()}


def _missing_contig(chrom: str, fasta: pyfaidx.Fasta, where: str, genome: str) -> InputError:
    names = fasta.faidx.index
    if chrom.startswith("chr") and chrom[3:] in names:
        other = chrom[3:]
    elif "chr" + chrom in names:
        other = "chr" + chrom
    elif chrom in ("MT", "chrMT") and "chrM" in names:
        other = "chrM"
    elif chrom in ("chrM", "M") and "MT" in names:
        other = "MT"
    else:
        other = None
    if other is not None:
        hint = (
            f"; the genome has {other!r}: the VCF and the genome disagree on the 'chr' "
            "prefix (rename the contigs of one of them, e.g. bcftools annotate --rename-chrs)"
        )
    else:
        shown = ", ".join(list(names)[:5]) + (", ..." if len(names) > 5 else "")
        hint = f"; the genome's contigs are: {shown}"
    return InputError(f"{where}: contig {chrom!r} is not in the genome {genome}{hint}")


def _span_codes(fasta: pyfaidx.Fasta, chrom: str, start0: int, end0: int) -> np.ndarray:
    """Base codes (0-3, -1 for N and anything else) of ``[start0, end0)`` on ``chrom``."""
    text = fasta.faidx.fetch(chrom, start0 + 1, end0)
    codes = BASE_LOOKUP[np.frombuffer(text.encode("latin-1", "replace"), dtype=np.uint8)]
    return np.maximum(codes, -1)


def _gather(
    fasta: pyfaidx.Fasta, chrom: str, starts0: np.ndarray, length: int, contig_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes and on-contig mask of the intervals ``[s, s + length)`` of one contig.

    Nearby intervals are read in one pyfaidx call (gaps below ``_MAX_GAP``, spans below
    ``_MAX_SPAN``); positions off the contig get code -1 and mask False.
    """
    starts0 = np.asarray(starts0, dtype=np.int64)
    n = len(starts0)
    codes = np.full((n, length), -1, dtype=np.int8)
    offsets = np.arange(length, dtype=np.int64)
    pos = starts0[:, None] + offsets
    valid = (pos >= 0) & (pos < contig_len)
    if n == 0 or length == 0:
        return codes, valid
    order = np.argsort(starts0, kind="stable")
    sorted_starts = starts0[order].tolist()
    groups: list[tuple[int, int]] = []
    first = 0
    for i in range(1, n + 1):
        if (
            i == n
            or sorted_starts[i] - (sorted_starts[i - 1] + length) > _MAX_GAP
            or sorted_starts[i] + length - sorted_starts[first] > _MAX_SPAN
        ):
            groups.append((first, i))
            first = i
    for a, b in groups:
        members = order[a:b]
        lo = max(sorted_starts[a], 0)
        hi = min(sorted_starts[b - 1] + length, contig_len)
        if hi <= lo:
            continue
        span = _span_codes(fasta, chrom, lo, hi)
        local = np.clip(pos[members] - lo, 0, len(span) - 1)
        codes[members] = np.where(valid[members], span[local], -1)
    return codes, valid


# --------------------------------------------------------------------------- VCF reading


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
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
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


def _records(path: str) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(record_index, line_number, cyvcf2 record)``.

    The text is read alongside cyvcf2 and each line is checked before cyvcf2 parses it:
    htslib returns garbage records for some malformed lines and crashes on others, and it
    does not report line numbers.
    """
    import cyvcf2

    try:
        vcf = cyvcf2.VCF(path, samples=[], lazy=True)
    except Exception as exc:  # noqa: BLE001 - cyvcf2 raises bare Exception / OSError
        raise InputError(f"{path}: cannot read as a VCF ({exc})") from None
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
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
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
        Genome FASTA; its ``.fai`` is built if missing (see :func:`open_genome`).
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
    fasta = open_genome(genome)
    lengths = {name: int(rec.rlen) for name, rec in fasta.faidx.index.items()}
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
                    message + " (--on-ref-mismatch skip, or on_ref_mismatch='skip' in Python, "
                    "skips such records)"
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
            raise _missing_contig(
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
            codes, valid = _gather(fasta, chrom, pos[rows] - 1, int(length), lengths[chrom])
            text = "".join(refs[r] for r in rows).encode("ascii")
            ref_codes = np.maximum(BASE_LOOKUP[np.frombuffer(text, np.uint8)], -1)
            ok[rows] = valid.all(axis=1) & (codes == ref_codes.reshape(len(rows), -1)).all(axis=1)
    return ok


def _genome_text(
    fasta: pyfaidx.Fasta, lengths: dict[str, int], chrom: str, pos: int, length: int
) -> str:
    if pos > lengths[chrom]:
        return f"nothing (the contig ends at {lengths[chrom]})"
    return fasta.faidx.fetch(chrom, pos, min(pos + length - 1, lengths[chrom]))


# --------------------------------------------------------------------------- windows


def window_center(window: int) -> int:
    """Index of the variant inside a window of length ``window`` (``window // 2``).

    Examples
    --------
    >>> window_center(1000), window_center(1001)
    (500, 500)
    """
    return int(window) // 2


def window_starts(positions: np.ndarray | Sequence[int], window: int) -> np.ndarray:
    """0-based genome coordinate of window position 0 for 1-based variant positions.

    Examples
    --------
    >>> window_starts([1, 600], 1000).tolist()
    [-500, 99]
    """
    return np.asarray(positions, dtype=np.int64) - 1 - window_center(window)


def _allele_codes(alleles: np.ndarray | Sequence[Any]) -> np.ndarray:
    arr = np.asarray(alleles)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int8)
    else:
        text = "".join(str(a).upper() for a in arr)
        if len(text) != len(arr):
            raise ValueError("alleles must be single bases (A, C, G or T)")
        codes = BASE_LOOKUP[np.frombuffer(text.encode("ascii"), np.uint8)]
    if ((codes < 0) | (codes >= N_BASES)).any():
        raise ValueError("alleles must be single bases (A, C, G or T)")
    return codes


def extract_windows(
    genome_path: str | os.PathLike,
    chroms: np.ndarray | Sequence[str],
    positions: np.ndarray | Sequence[int],
    window: int,
    *,
    alts: np.ndarray | Sequence[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot genome windows centred on variants (the kernel run on Dask workers).

    The genome is opened with pyfaidx inside the call and cached per process (see
    :func:`open_genome`); only the windows asked for are read, nearby ones in one read.

    Parameters
    ----------
    genome_path
        Genome FASTA.
    chroms, positions
        Contig and 1-based position of each variant, shape ``(n,)``.
    window
        Window length ``W``; the variant is at index ``W // 2`` and the window starts at the
        0-based genome coordinate ``pos - 1 - W // 2``.
    alts
        Optional alternate bases (letters or codes 0-3), shape ``(n,)``: also return the
        windows with the alternate allele at the centre.

    Returns
    -------
    onehot : numpy.ndarray
        ``(n, W, 4)`` uint8, bases A C G T; N, other ambiguous bases and positions off the
        contig are all-zero rows.
    valid_mask : numpy.ndarray
        ``(n, W)`` bool, False where the window runs off its contig.
    alt_onehot : numpy.ndarray
        Only with ``alts``: ``onehot`` with the centre replaced by the alternate base.

    Raises
    ------
    InputError
        When a contig is not in the genome.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGTAC\\n")
    >>> onehot, valid = extract_windows(fa, ["c1", "c1"], [5, 1], 4)
    >>> from dfimx.alphabet import onehot_to_strings
    >>> onehot_to_strings(onehot), valid.tolist()
    (['GTAC', 'NNAC'], [[True, True, True, True], [False, False, True, True]])
    >>> ref, valid, alt = extract_windows(fa, ["c1"], [5], 4, alts=["G"])
    >>> onehot_to_strings(alt)
    ['GTGC']
    """
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be a positive length, got {window}")
    genome = os.fspath(genome_path)
    fasta = open_genome(genome)
    chroms_a = np.asarray(chroms, dtype=object)
    pos = np.asarray(positions, dtype=np.int64)
    if chroms_a.shape != pos.shape or pos.ndim != 1:
        raise ValueError("chroms and positions must be 1-d arrays of the same length")
    starts = window_starts(pos, window)
    codes = np.full((len(pos), window), -1, dtype=np.int8)
    valid = np.zeros((len(pos), window), dtype=bool)
    index = fasta.faidx.index
    for chrom in dict.fromkeys(chroms_a.tolist()):
        if chrom not in index:
            raise _missing_contig(chrom, fasta, "variant windows", genome)
        rows = np.flatnonzero(chroms_a == chrom)
        codes[rows], valid[rows] = _gather(fasta, chrom, starts[rows], window, index[chrom].rlen)
    onehot = codes_to_onehot(codes)
    if alts is None:
        return onehot, valid
    alt_codes = _allele_codes(alts)
    if alt_codes.shape != pos.shape:
        raise ValueError("alts must have one base per variant")
    alt_onehot = onehot.copy()
    center = window_center(window)
    alt_onehot[:, center, :] = 0
    alt_onehot[np.arange(len(pos)), center, alt_codes] = 1
    return onehot, valid, alt_onehot


def _onehot_block(chroms: np.ndarray, positions: np.ndarray, *, genome: str, window: int):
    onehot, _ = extract_windows(genome, chroms, positions, window)
    return onehot


def _valid_block(starts: np.ndarray, lengths: np.ndarray, *, window: int) -> np.ndarray:
    pos = starts[:, None] + np.arange(window, dtype=np.int64)
    return (pos >= 0) & (pos < lengths[:, None])


def unique_seq_ids(table: pd.DataFrame) -> np.ndarray:
    """Unique sequence ids for a variant table: ``variant_id``, made unique where needed.

    Repeated ids get ``:ALT`` appended (the alleles of a multi-allelic record share its ID),
    then ``:record_index`` and finally ``#k`` if they still repeat.

    Examples
    --------
    >>> t = pd.DataFrame({"variant_id": ["rs1", "rs1", "rs2"], "variant_alt": ["A", "T", "G"],
    ...                   "record_index": [0, 0, 1]})
    >>> unique_seq_ids(t).tolist()
    ['rs1:A', 'rs1:T', 'rs2']
    """
    ids = table["variant_id"].astype(str).reset_index(drop=True)
    for suffix in (
        table["variant_alt"].astype(str).reset_index(drop=True),
        table["record_index"].astype(str).reset_index(drop=True),
    ):
        dup = ids.duplicated(keep=False)
        if not dup.any():
            return string_array(ids)
        ids = ids.where(~dup, ids + ":" + suffix)
    dup = ids.duplicated(keep=False)
    if dup.any():
        rank = ids.groupby(ids).cumcount().astype(str)
        ids = ids.where(~dup, ids + "#" + rank)
    return string_array(ids)


def _chunked(arr: np.ndarray, chunk_size: int) -> da.Array:
    return da.from_array(arr, chunks=(chunk_size,) + arr.shape[1:])


def variant_windows_dataset(
    table: pd.DataFrame,
    genome_path: str | os.PathLike,
    window: int,
    *,
    chunk_size: int = 256,
) -> xr.Dataset:
    """Lazy dataset of variant windows, one ``seq`` per variant allele (SNVs).

    Nothing is read from the genome here beyond its index: ``seq_onehot`` is a Dask array
    whose tasks each call :func:`extract_windows` on one chunk of variants, so the windows
    are read on the workers. The single-base source of each window (its alternate allele at
    index ``window // 2``) is filled in as the mutation plan.

    Parameters
    ----------
    table
        Variant table from :func:`read_variant_table` (SNV rows only).
    genome_path
        Genome FASTA (passed to the tasks by absolute path).
    window
        Window length ``W``; see :func:`extract_windows` for the convention.
    chunk_size
        Variants per chunk along ``seq``.

    Returns
    -------
    xarray.Dataset
        Data contract variables ``seq_id`` (unique, see :func:`unique_seq_ids`),
        ``seq_onehot`` (seq, position, base) uint8, ``mutation_start``/``mutation_end``
        (seq, mutation) = ``W // 2``/``W // 2 + 1``, ``mutation_alt`` (int8 code of ALT),
        ``mutation_name`` (``REF>ALT``), ``mutation_mask``; and ``variant_chrom``,
        ``variant_pos``, ``variant_ref``, ``variant_alt``, ``variant_id`` (seq),
        ``window_start`` (seq) 0-based genome coordinate of window position 0, and
        ``window_valid`` (seq, position) False off the contig ends. Numeric variables are
        Dask arrays chunked by ``chunk_size``; strings are in memory.

    Raises
    ------
    InputError
        When a contig of the table is not in the genome.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGTAC\\n")
    >>> t = pd.DataFrame({"variant_chrom": ["c1"], "variant_pos": [5], "variant_ref": ["A"],
    ...                   "variant_alt": ["G"], "variant_id": ["v1"], "record_index": [0]})
    >>> ds = variant_windows_dataset(t, fa, 4, chunk_size=1)
    >>> ds["mutation_name"].values.tolist(), int(ds["mutation_start"][0, 0])
    ([['A>G']], 2)
    >>> ds["seq_onehot"].values.argmax(-1).tolist()
    [[2, 3, 0, 1]]
    """
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be a positive length, got {window}")
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"variant table lacks columns {missing}")
    genome = os.path.abspath(os.fspath(genome_path))
    fasta = open_genome(genome)
    chroms = string_array(table["variant_chrom"])
    pos = table["variant_pos"].to_numpy(dtype=np.int64)
    refs = string_array(table["variant_ref"])
    alts = string_array(table["variant_alt"])
    if any(len(r) != 1 for r in refs) or any(len(a) != 1 for a in alts):
        raise InputError(
            f"{table.attrs.get('vcf', 'variant table')}: variant windows need SNVs; "
            "read the VCF with snvs_only=True"
        )
    index = fasta.faidx.index
    for chrom in dict.fromkeys(chroms.tolist()):
        if chrom not in index:
            raise _missing_contig(chrom, fasta, "variant table", genome)
    n = len(pos)
    center = window_center(window)
    starts = window_starts(pos, window)
    clen = np.array([index[c].rlen for c in chroms], dtype=np.int64)

    chunks = min(chunk_size, max(n, 1))
    chrom_d = da.from_array(chroms, chunks=chunks)
    pos_d = da.from_array(pos, chunks=chunks)
    seq_chunks = chrom_d.chunks[0]
    onehot = da.map_blocks(
        _onehot_block,
        chrom_d,
        pos_d,
        genome=genome,
        window=window,
        new_axis=[1, 2],
        chunks=(seq_chunks, (window,), (N_BASES,)),
        dtype=np.uint8,
        meta=np.empty((0, 0, 0), dtype=np.uint8),
        name="dfimx-variant-windows",
    )
    valid = da.map_blocks(
        _valid_block,
        da.from_array(starts, chunks=chunks),
        da.from_array(clen, chunks=chunks),
        window=window,
        new_axis=[1],
        chunks=(seq_chunks, (window,)),
        dtype=bool,
        meta=np.empty((0, 0), dtype=bool),
        name="dfimx-window-valid",
    )
    alt_codes = _allele_codes(alts)
    mut_start = np.full((n, 1), center, dtype=np.int64)
    ds = xr.Dataset(
        {
            "seq_id": ("seq", unique_seq_ids(table)),
            "seq_onehot": (("seq", "position", "base"), onehot),
            "window_valid": (("seq", "position"), valid),
            "window_start": ("seq", _chunked(starts, chunks)),
            "variant_chrom": ("seq", chroms),
            "variant_pos": ("seq", _chunked(pos, chunks)),
            "variant_ref": ("seq", refs),
            "variant_alt": ("seq", alts),
            "variant_id": ("seq", string_array(table["variant_id"])),
            "mutation_start": (("seq", "mutation"), _chunked(mut_start, chunks)),
            "mutation_end": (("seq", "mutation"), _chunked(mut_start + 1, chunks)),
            "mutation_alt": (("seq", "mutation"), _chunked(alt_codes[:, None], chunks)),
            "mutation_name": (
                ("seq", "mutation"),
                string_array(f"{r}>{a}" for r, a in zip(refs, alts, strict=True)).reshape(n, 1),
            ),
            "mutation_mask": (("seq", "mutation"), _chunked(np.ones((n, 1), bool), chunks)),
        },
        coords={"base": np.array(BASES, dtype=object)},
        attrs={
            "genome": os.fspath(genome_path),
            "vcf": str(table.attrs.get("vcf", "")),
            "window": window,
            "window_center": center,
            "mutation_mode": "variant",
        },
    )
    ds["seq_onehot"].attrs["doc"] = "one-hot A C G T; N rows are all zero"
    ds["window_start"].attrs["doc"] = "0-based genome coordinate of window position 0"
    ds["window_valid"].attrs["doc"] = "False where the window runs off its contig"
    return ds
