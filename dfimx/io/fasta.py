"""FASTA files: the one pyfaidx opener, streaming and validity readers, interval reads
from an indexed genome, and the one FASTA writer.

Every FASTA that dfimx reads at random (sequence files, genomes) is opened by
:func:`open_fasta`: once per process and file version, so that Dask tasks reading
chunks or windows do not reopen it. Plain-gzip files cannot be read at random; they are
streamed by :func:`stream_fasta`. A truncated compressed file is an error, never a shorter
file: a BGZF file must end with its end-of-file block
(:func:`dfimx.io.compressed.check_bgzf_complete`), and a gzip stream that stops early is
reported by the readers.

Examples
--------
>>> import tempfile
>>> path = write_fasta(tempfile.mkdtemp() + "/g.fa", {"c1": "ACGTACGT", "c2": "AC"},
...                    line_width=3, index=True)
>>> print(path.read_text(), end="")
>c1
ACG
TAC
GT
>c2
AC
>>> open_fasta(path)["c1"][2:5], contig_lengths(path)
('GTA', {'c1': 8, 'c2': 2})
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyfaidx

from dfimx.alphabet import BASE_LOOKUP
from dfimx.errors import InputError
from dfimx.io.compressed import GZIP_ERRORS, check_bgzf_complete, is_plain_gzip, open_bytes

__all__ = [
    "DEFAULT_LINE_WIDTH",
    "all_bytes_valid",
    "contig_lengths",
    "first_invalid_line",
    "gather_codes",
    "is_plain_gzip",
    "missing_contig_error",
    "open_fasta",
    "span_codes",
    "stream_fasta",
    "write_fasta",
]

#: Bases per line written by :func:`write_fasta` (as ``samtools faidx``).
DEFAULT_LINE_WIDTH = 60
#: Intervals closer than this (bases) are read from the genome in one pyfaidx call.
MAX_GAP = 1 << 16
#: Largest stretch of genome read in one pyfaidx call.
MAX_SPAN = 1 << 22

_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
#: Bytes allowed on FASTA sequence lines (bases, IUPAC codes, line ends).
_SEQUENCE_BYTES = np.zeros(256, bool)
_SEQUENCE_BYTES[np.flatnonzero(BASE_LOOKUP != -2)] = True
_SEQUENCE_BYTES[[ord("\n"), ord("\r")]] = True


# --------------------------------------------------------------------------- opening


def _index_cache_path(fasta: str) -> str:
    digest = hashlib.blake2b(fasta.encode(), digest_size=8).hexdigest()
    folder = Path(tempfile.gettempdir()) / "dfimx-fai"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{digest}-{Path(fasta).name}.fai")


def _fai_is_current(fasta: str, fai: str) -> bool:
    return os.path.exists(fai) and os.path.getmtime(fai) >= os.path.getmtime(fasta)


def _faidx(real: str, shown: str, role: str, kwargs: dict[str, Any]) -> pyfaidx.Fasta:
    try:
        return pyfaidx.Fasta(real, **kwargs)
    except pyfaidx.FastaIndexingError as exc:
        raise InputError(f"{shown}: cannot index the {role}: {exc}") from None
    except pyfaidx.UnsupportedCompressionFormat as exc:
        raise InputError(f"{shown}: {exc}") from None
    except ValueError as exc:  # pyfaidx: 'Duplicate key "name"'
        text = str(exc)
        if text.startswith("Duplicate key"):
            name = text.split(" ", 2)[-1].strip('"')
            raise InputError(f"{shown}: duplicate sequence id {name!r}") from None
        raise InputError(f"{shown}: cannot index the {role}: {exc}") from None


def _index(real: str, shown: str, role: str) -> pyfaidx.Fasta:
    kwargs: dict[str, Any] = {"as_raw": True, "sequence_always_upper": False}
    writable = os.access(os.path.dirname(real) or ".", os.W_OK)
    if not _fai_is_current(real, real + ".fai") and not writable:
        kwargs["indexname"] = _index_cache_path(real)
    try:
        return _faidx(real, shown, role, kwargs)
    except OSError as exc:
        if "indexname" in kwargs:
            raise InputError(f"{shown}: cannot read the {role}: {exc}") from None
    # The folder looked writable but the index could not be written there.
    kwargs["indexname"] = _index_cache_path(real)
    try:
        return _faidx(real, shown, role, kwargs)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the {role}: {exc}") from None


_OPEN: dict[tuple[str, int, int], pyfaidx.Fasta] = {}
_OPEN_LOCK = threading.Lock()


def open_fasta(path: str | os.PathLike, *, role: str = "FASTA file") -> pyfaidx.Fasta:
    """Open an indexed FASTA with pyfaidx, once per process and file version.

    The ``.fai`` index is built next to the FASTA when it is missing or stale; when that
    folder is read-only, the index goes to ``$TMPDIR/dfimx-fai/`` instead. The open
    :class:`pyfaidx.Fasta` is cached per process and real path, and reopened when the file
    changes (size or modification time), so Dask tasks that read chunks or windows do not
    reopen it.

    Parameters
    ----------
    path
        FASTA file (plain text, or bgzip when Biopython is installed).
    role
        What the file is, for error messages (``"genome FASTA"``).

    Returns
    -------
    pyfaidx.Fasta
        Opened with ``as_raw=True``; sequences keep the case of the file (every dfimx
        reader decodes bases case-insensitively).

    Raises
    ------
    InputError
        When the file is missing, has a duplicated record name, is not a valid FASTA, or
        is a bgzip file without its end-of-file block (truncated).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTacgt\\n")
    >>> open_fasta(fa)["c1"][2:5]
    'GTa'
    >>> open_fasta(fa) is open_fasta(str(fa))
    True
    """
    shown = os.fspath(path)
    real = os.path.realpath(shown)
    try:
        st = os.stat(real)
    except OSError:
        raise InputError(f"{shown}: {role} not found") from None
    key = (real, st.st_mtime_ns, st.st_size)
    with _OPEN_LOCK:
        fasta = _OPEN.get(key)
        if fasta is None:
            for old in [k for k in _OPEN if k[0] == real]:
                _OPEN.pop(old).close()
            check_bgzf_complete(real, role)  # a bgzip file cut short reads as a shorter one
            fasta = _index(real, shown, role)
            _OPEN[key] = fasta
    return fasta


def contig_lengths(path: str | os.PathLike, *, role: str = "genome FASTA") -> dict[str, int]:
    """Record name -> length of a FASTA file (from its ``.fai`` index), in file order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGT\\n>c2\\nAC\\n")
    >>> contig_lengths(fa)
    {'c1': 8, 'c2': 2}
    """
    fasta = open_fasta(path, role=role)
    return {name: int(rec.rlen) for name, rec in fasta.faidx.index.items()}


def missing_contig_error(
    chrom: str, fasta: pyfaidx.Fasta, where: str, genome: str
) -> InputError:
    """The error for a contig that is not in the genome, with a hint on ``chr`` prefixes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">chr1\\nACGT\\n")
    >>> "the genome has 'chr1'" in str(missing_contig_error("1", open_fasta(fa), "v.vcf", "g"))
    True
    """
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


# --------------------------------------------------------------------------- interval reads


def span_codes(fasta: pyfaidx.Fasta, chrom: str, start0: int, end0: int) -> np.ndarray:
    """Base codes (0-3, -1 for N and anything else) of ``[start0, end0)`` on ``chrom``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACgtN\\n")
    >>> span_codes(open_fasta(fa), "c1", 1, 5).tolist()
    [1, 2, 3, -1]
    """
    text = fasta.faidx.fetch(chrom, start0 + 1, end0)
    codes = BASE_LOOKUP[np.frombuffer(str(text).encode("latin-1", "replace"), dtype=np.uint8)]
    return np.maximum(codes, -1)


def gather_codes(
    fasta: pyfaidx.Fasta, chrom: str, starts0: np.ndarray, length: int, contig_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes and on-contig mask of the intervals ``[s, s + length)`` of one contig.

    Nearby intervals are read in one pyfaidx call (gaps below :data:`MAX_GAP`, spans
    below :data:`MAX_SPAN`); positions off the contig get code -1 and mask False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGT\\n")
    >>> codes, valid = gather_codes(open_fasta(fa), "c1", [-1, 6], 3, 8)
    >>> codes.tolist(), valid.tolist()
    ([[-1, 0, 1], [2, 3, -1]], [[False, True, True], [True, True, False]])
    """
    starts0 = np.asarray(starts0, dtype=np.int64)
    n = len(starts0)
    codes = np.full((n, length), -1, dtype=np.int8)
    pos = starts0[:, None] + np.arange(length, dtype=np.int64)
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
            or sorted_starts[i] - (sorted_starts[i - 1] + length) > MAX_GAP
            or sorted_starts[i] + length - sorted_starts[first] > MAX_SPAN
        ):
            groups.append((first, i))
            first = i
    for a, b in groups:
        members = order[a:b]
        lo = max(sorted_starts[a], 0)
        hi = min(sorted_starts[b - 1] + length, contig_len)
        if hi <= lo:
            continue
        span = span_codes(fasta, chrom, lo, hi)
        local = np.clip(pos[members] - lo, 0, len(span) - 1)
        codes[members] = np.where(valid[members], span[local], -1)
    return codes, valid


# --------------------------------------------------------------------------- streaming


def _damaged(path: str, exc: BaseException) -> InputError:
    return InputError(f"{path}: cannot read the FASTA file: the gzip stream is truncated or "
                      f"damaged ({exc})")


def _lines(fh: Any) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, line without its end, whether a lone carriage return remains)``."""
    for lineno, raw in enumerate(fh, 1):
        line = raw.rstrip(b"\n")
        line = line[:-1] if line.endswith(b"\r") else line
        yield lineno, line, b"\r" in line


def stream_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Yield ``(name, sequence)`` from a (possibly gzipped) FASTA file, one record at a time.

    The name is the first word of the header line. Lines end in ``\\n`` or ``\\r\\n``
    (empty lines are skipped; spaces are kept, so that a sequence line with a space is
    refused as by the indexed reader); bytes are read as Latin-1, so that a stray non-ASCII
    byte is reported as an invalid character of its record (by
    :func:`dfimx.sequences.encode`), not as a decoding error.

    Raises
    ------
    InputError
        For a header without a name, sequence before the first header, a lone carriage
        return (classic Mac line ends), or a truncated or damaged gzip stream.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.fa"
    >>> _ = p.write_text(">a one\\nAC\\nGT\\n>b\\nT\\n")
    >>> list(stream_fasta(p))
    [('a', 'ACGT'), ('b', 'T')]
    """
    path = os.fspath(path)
    name, parts = None, []
    try:
        with open_bytes(path) as fh:
            for lineno, line, lone_cr in _lines(fh):
                if lone_cr:
                    raise InputError(f"{path}: line {lineno}: {_LONE_CR}")
                # spaces are not stripped: on a sequence line they are invalid characters,
                # as in the indexed (pyfaidx) reader
                text = line.decode("latin-1")
                if not text:
                    continue
                if text.startswith(">"):
                    if name is not None:
                        yield name, "".join(parts)
                    name, parts = text[1:].split()[0] if text[1:].strip() else "", []
                    if not name:
                        raise InputError(f"{path}: line {lineno}: FASTA header without a name")
                else:
                    if name is None:
                        raise InputError(
                            f"{path}: line {lineno}: sequence before the first '>' header")
                    parts.append(text)
    except GZIP_ERRORS as exc:
        raise _damaged(path, exc) from None
    if name is not None:
        yield name, "".join(parts)


#: The message for a carriage return that does not end a line.
_LONE_CR = ("a carriage return not followed by a line feed (classic Mac line ends; convert "
            "the file to \\n or \\r\\n line ends)")


def first_invalid_line(path: str | os.PathLike) -> str | None:
    """Where a FASTA file first breaks the byte rules, as ``"line N: ..."``; None if nowhere.

    The slow companion of :func:`all_bytes_valid` for what no per-record check sees: a
    lone carriage return (which makes pyfaidx read the whole file as one header) and
    invalid bytes on a sequence line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.fa"
    >>> _ = p.write_bytes(b">a\\rACGT\\r")
    >>> first_invalid_line(p)[:30]
    'line 1: a carriage return not '
    """
    path = os.fspath(path)
    try:
        with open_bytes(path) as fh:
            for lineno, line, lone_cr in _lines(fh):
                if lone_cr:
                    return f"line {lineno}: {_LONE_CR}"
                if line.startswith(b">"):
                    continue
                codes = np.frombuffer(line, np.uint8)
                bad = np.flatnonzero(~_SEQUENCE_BYTES[codes])
                if bad.size:
                    return f"line {lineno}: invalid byte {bytes(line[bad[0]:bad[0] + 1])!r}"
    except GZIP_ERRORS as exc:
        raise _damaged(path, exc) from None
    return None


def all_bytes_valid(path: str | os.PathLike, block: int = 1 << 24) -> bool:
    """Whether every sequence line of a FASTA file holds only valid bytes.

    One streaming pass in blocks (bounded memory, vectorised); header lines are skipped.
    False means some record needs the per-record check that names it (or, for a lone
    carriage return, :func:`first_invalid_line`).

    Raises
    ------
    InputError
        For a truncated or damaged gzip stream.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.fa"
    >>> _ = p.write_text(">a Z!\\nACGTN\\n>b\\nAC-T\\n")
    >>> all_bytes_valid(p)
    False
    """
    path = os.fspath(path)
    try:
        return _all_bytes_valid(path, block)
    except GZIP_ERRORS as exc:
        raise _damaged(path, exc) from None


def _all_bytes_valid(path: str, block: int) -> bool:
    tail = b""
    with open_bytes(path) as fh:
        while True:
            chunk = fh.read(block)
            data = tail + chunk
            if not chunk:
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one very long line: keep reading
                    tail = data
                    continue
            tail = data[cut:]
            if cut and not _block_valid(np.frombuffer(data[:cut], np.uint8)):
                return False
            if not chunk:
                return True


def _block_valid(b: np.ndarray) -> bool:
    """Complete lines ``b``: are all bytes outside header lines valid sequence bytes, and
    is every carriage return followed by a line feed (or the end of the file)?"""
    cr = np.flatnonzero(b[:-1] == 13)
    if cr.size and (b[cr + 1] != 10).any():
        return False
    starts = np.concatenate([[0], np.flatnonzero(b[:-1] == 10) + 1])
    heads = starts[b[starts] == ord(">")]
    if heads.size:
        newlines = np.flatnonzero(b == 10)
        after = np.searchsorted(newlines, heads)  # each header's line end
        ends = np.full(heads.shape, len(b))  # a header on an unterminated last line
        has_end = after < len(newlines)
        ends[has_end] = newlines[after[has_end]]
        inside = np.zeros(len(b) + 2, np.int32)
        inside[heads] += 1  # header starts and ends are distinct positions
        inside[ends + 1] -= 1
        mask = np.cumsum(inside[: len(b)]) > 0
        return bool(_SEQUENCE_BYTES[b[~mask]].all())
    return bool(_SEQUENCE_BYTES[b].all())


# --------------------------------------------------------------------------- writing


def _sequence_bytes(seq: str | bytes | np.ndarray) -> bytes:
    if isinstance(seq, str):
        return seq.encode("ascii")
    if isinstance(seq, bytes):
        return seq
    codes = np.asarray(seq)
    if codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise ValueError(f"a sequence must be a string or 1-d base codes, got {codes.shape}")
    return _LETTERS[np.where(codes < 0, 4, codes)].tobytes()


def write_fasta(
    path: str | os.PathLike,
    records: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    line_width: int | None = DEFAULT_LINE_WIDTH,
    index: bool = False,
) -> Path:
    """Write FASTA records; the one FASTA writer of dfimx.

    Parameters
    ----------
    path
        Output file; a name ending in ``.gz`` is gzip-compressed (plain gzip:
        :func:`dfimx.sequences.from_fasta` decodes it into memory; pyfaidx reads BGZF only
        with Biopython, so dfimx does not write it).
    records
        ``{name: sequence}`` or ``(name, sequence)`` pairs, in file order. The name is the
        whole header line after ``>`` (its first word is the record id). A sequence is a
        string, bytes, or a 1-d array of base codes (0-3 for A C G T, -1 for N).
    line_width
        Bases per line; None (or 0) writes each sequence on one line.
    index
        Also write the ``.fai`` index (``samtools faidx`` format) next to a plain file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> p = write_fasta(tempfile.mkdtemp() + "/s.fa", [("a x", np.array([0, 1, -1]))],
    ...                 line_width=None, index=True)
    >>> p.read_text(), p.with_name("s.fa.fai").read_text()
    ('>a x\\nACN\\n', 'a\\t3\\t5\\t3\\t4\\n')
    """
    p = Path(path)
    compressed = p.name.endswith(".gz")
    if index and compressed:
        raise ValueError(f"{p}: a .fai index is written for plain FASTA files only")
    items = records.items() if isinstance(records, Mapping) else records
    fai: list[str] = []
    offset = 0
    with (gzip.open(p, "wb") if compressed else open(p, "wb")) as fh:
        for name, seq in items:
            name = str(name)
            if not name.strip() or "\n" in name or "\r" in name:
                raise ValueError(f"FASTA record name {name!r} must be one non-empty line")
            text = _sequence_bytes(seq)
            head = f">{name}\n".encode()
            width = int(line_width or 0) or max(len(text), 1)
            body = b"".join(text[i : i + width] + b"\n" for i in range(0, len(text), width))
            fh.write(head + body)
            offset += len(head)
            bases = min(width, len(text)) or width  # per line, as samtools writes it
            fai.append(f"{name.split()[0]}\t{len(text)}\t{offset}\t{bases}\t{bases + 1}\n")
            offset += len(body)
    if index:
        Path(str(p) + ".fai").write_text("".join(fai))
    return p
