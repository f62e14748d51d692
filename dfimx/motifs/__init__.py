"""Motifs: position weight matrices (:mod:`dfimx.motifs.pwm`) and PWM scans with exact
p-values (:mod:`dfimx.motifs.scan`); MEME files are read and written by
:mod:`dfimx.io.meme` (re-exported here).

Examples
--------
>>> from dfimx.motifs import read_meme, default_motifs_path, consensus
>>> consensus(read_meme(default_motifs_path())["TAL1_like"])
'AACCAGCTGGTT'
"""

from __future__ import annotations

from dfimx.io.meme import (
    ROW_SUM_TOLERANCE,
    default_motifs_path,
    load_motifs,
    read_meme,
    write_meme,
)
from dfimx.motifs.pwm import (
    DEFAULT_BACKGROUND,
    DEFAULT_PSEUDOCOUNT,
    as_background,
    consensus,
    log_odds,
    reverse_complement_pwm,
    sample_motif,
)
from dfimx.motifs.scan import HIT_COLUMNS, pvalue_table, scan_motifs

__all__ = [
    "DEFAULT_BACKGROUND",
    "DEFAULT_PSEUDOCOUNT",
    "HIT_COLUMNS",
    "ROW_SUM_TOLERANCE",
    "as_background",
    "consensus",
    "default_motifs_path",
    "load_motifs",
    "log_odds",
    "pvalue_table",
    "read_meme",
    "reverse_complement_pwm",
    "sample_motif",
    "scan_motifs",
    "write_meme",
]
