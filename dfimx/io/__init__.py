"""Input files: FASTA (:mod:`dfimx.io.fasta`), VCF (:mod:`dfimx.io.vcf`) and MEME motif
files (:mod:`dfimx.io.meme`), one reader and one writer each; gzip and BGZF detection and
the check that a bgzipped file is whole (:mod:`dfimx.io.compressed`).

Examples
--------
>>> from dfimx.io import read_meme, default_motifs_path
>>> list(read_meme(default_motifs_path()))[0]
'GATA_like'
"""

from __future__ import annotations

from dfimx.io.compressed import check_bgzf_complete, is_bgzf, is_plain_gzip, write_bgzf
from dfimx.io.fasta import (
    DEFAULT_LINE_WIDTH,
    all_bytes_valid,
    contig_lengths,
    first_invalid_line,
    gather_codes,
    missing_contig_error,
    open_fasta,
    span_codes,
    stream_fasta,
    write_fasta,
)
from dfimx.io.meme import (
    ROW_SUM_TOLERANCE,
    default_motifs_path,
    load_motifs,
    read_meme,
    write_meme,
)
from dfimx.io.vcf import TABLE_COLUMNS, VariantReadReport, read_variant_table

__all__ = [
    "DEFAULT_LINE_WIDTH",
    "ROW_SUM_TOLERANCE",
    "TABLE_COLUMNS",
    "VariantReadReport",
    "all_bytes_valid",
    "check_bgzf_complete",
    "contig_lengths",
    "default_motifs_path",
    "first_invalid_line",
    "gather_codes",
    "is_bgzf",
    "is_plain_gzip",
    "load_motifs",
    "missing_contig_error",
    "open_fasta",
    "read_meme",
    "read_variant_table",
    "span_codes",
    "stream_fasta",
    "write_bgzf",
    "write_fasta",
    "write_meme",
]
