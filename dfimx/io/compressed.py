"""Compressed input files: gzip and BGZF detection, and the BGZF end-of-file check.

A BGZF file (``bgzip``, htslib) is a series of gzip members; cut at a member boundary it
decompresses without error into a shorter file. The 28-byte end-of-file block that every
BGZF writer appends (:data:`BGZF_EOF`) is the only sign that its end is missing, so every
dfimx reader of a bgzipped input calls :func:`check_bgzf_complete` first. A plain gzip
file that stops early fails when it is read (:data:`GZIP_ERRORS`).

Examples
--------
>>> import gzip, tempfile
>>> p = tempfile.mkdtemp() + "/s.fa.gz"
>>> with gzip.open(p, "wt") as fh:
...     _ = fh.write(">a\\nAC\\n")
>>> is_plain_gzip(p), is_bgzf(p)
(True, False)
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import struct
import zlib
from pathlib import Path
from typing import IO

from dfimx.errors import InputError

__all__ = [
    "BGZF_EOF",
    "GZIP_ERRORS",
    "bgzf_indexable",
    "check_bgzf_complete",
    "is_bgzf",
    "is_gzip",
    "is_plain_gzip",
    "open_bytes",
    "write_bgzf",
]

#: The empty block that ends every BGZF file (SAM specification, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
#: Largest uncompressed block of :func:`write_bgzf` (as bgzip).
BGZF_BLOCK = 0xFF00
#: What reading a truncated or damaged gzip stream raises.
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _head(path: str | os.PathLike, size: int = 18) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def is_bgzf(path: str | os.PathLike) -> bool:
    """Whether a file is BGZF (blocked gzip, as written by ``bgzip`` and htslib).

    Examples
    --------
    >>> import tempfile
    >>> p = tempfile.mkdtemp() + "/empty.gz"
    >>> _ = open(p, "wb").write(BGZF_EOF)
    >>> is_bgzf(p), is_plain_gzip(p)
    (True, False)
    """
    head = _head(path)
    # BGZF blocks carry the 'BC' extra subfield.
    return len(head) >= 14 and head[:2] == b"\x1f\x8b" and bool(head[3] & 4) \
        and head[12:14] == b"BC"


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether a file starts with the gzip magic bytes (plain gzip or BGZF)."""
    return _head(path, 2) == b"\x1f\x8b"


def is_plain_gzip(path: str | os.PathLike) -> bool:
    """Whether a file is gzip but not BGZF (which pyfaidx reads at random).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.fa"
    >>> _ = p.write_text(">a\\nAC\\n")
    >>> is_plain_gzip(p)                 # plain text: not gzip at all
    False
    """
    return is_gzip(path) and not is_bgzf(path)


def bgzf_indexable() -> bool:
    """Whether pyfaidx can read BGZF files at random here (it needs Biopython).

    Without it, :func:`dfimx.sequences.from_fasta` decodes a bgzipped FASTA into memory
    as it does a plain-gzip one.
    """
    return importlib.util.find_spec("Bio") is not None


def check_bgzf_complete(path: str | os.PathLike, role: str = "file") -> None:
    """Raise :class:`InputError` when a BGZF file does not end with its end-of-file block.

    A BGZF file cut at a block boundary decompresses without error into a shorter file;
    the 28-byte end-of-file block (:data:`BGZF_EOF`) that every BGZF writer appends is the
    only sign that the end is missing. Files that are not BGZF pass; a file that cannot be
    read is an :class:`InputError` too.

    Examples
    --------
    >>> import tempfile
    >>> p = tempfile.mkdtemp() + "/cut.vcf.gz"
    >>> _ = open(p, "wb").write(BGZF_EOF[:-1])
    >>> check_bgzf_complete(p, "VCF")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: .../cut.vcf.gz: the VCF is truncated: ...
    """
    try:
        if not is_bgzf(path):
            return
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - len(BGZF_EOF)))
            tail = fh.read()
    except OSError as exc:
        raise InputError(f"{os.fspath(path)}: cannot read the {role} ({exc})") from None
    if tail != BGZF_EOF:
        raise InputError(
            f"{os.fspath(path)}: the {role} is truncated: a bgzip file ends with a 28-byte "
            "end-of-file block and this one does not (was the copy or download cut short?)"
        )


def open_bytes(path: str | os.PathLike) -> IO[bytes]:
    """Open a file for reading bytes, decompressing gzip and BGZF.

    Examples
    --------
    >>> import tempfile
    >>> p = tempfile.mkdtemp() + "/t.txt"
    >>> _ = open(p, "wb").write(b"x")
    >>> with open_bytes(p) as fh:
    ...     fh.read()
    b'x'
    """
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def write_bgzf(path: str | os.PathLike, data: bytes, *, block: int = BGZF_BLOCK,
               eof: bool = True) -> Path:
    """Write ``data`` as BGZF (what ``bgzip`` writes), in blocks of ``block`` bytes.

    ``eof=False`` leaves out the end-of-file block, as a copy cut at a block boundary
    would (for tests of :func:`check_bgzf_complete`).

    Examples
    --------
    >>> import gzip, tempfile
    >>> p = write_bgzf(tempfile.mkdtemp() + "/s.fa.gz", b">a\\nACGT\\n", block=3)
    >>> is_bgzf(p), gzip.decompress(p.read_bytes())
    (True, b'>a\\nACGT\\n')
    """
    if not 0 < block <= BGZF_BLOCK:
        raise ValueError(f"block must be in 1..{BGZF_BLOCK}, got {block}")
    parts = []
    for i in range(0, len(data), block):
        chunk = data[i : i + block]
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = packer.compress(chunk) + packer.flush()
        head = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"
        parts.append(head + struct.pack("<H", len(body) + 25) + body
                     + struct.pack("<II", zlib.crc32(chunk), len(chunk)))
    if eof:
        parts.append(BGZF_EOF)
    out = Path(path)
    out.write_bytes(b"".join(parts))
    return out
