"""``dfimx scan-variants``: DFIM of every variant of a VCF against the motifs and variants
around it.

Examples
--------
$ dfimx scan-variants --model m.keras --genome hg38.fa --vcf calls.vcf.gz --window 1000 \\
      --motifs jaspar.meme -o scan.zarr --workers 8
$ dfimx export scan.zarr -o interactions.tsv
"""

from __future__ import annotations

import argparse
import textwrap
import time
from typing import Any

from dfimx.cli.options import (
    command_line,
    common_options,
    config_attrs,
    merge_config,
    require_options,
    settings_from,
)
from dfimx.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CIS_VARIANTS,
    DEFAULT_MAX_MOTIF_TARGETS,
    DEFAULT_P_VALUE_THRESHOLD,
    DEFAULT_VARIANT_CHUNK,
    VARIANT_DEFAULTS,
)

EPILOG = """examples:
  dfimx scan-variants --model m.keras --genome hg38.fa --vcf calls.vcf.gz -o scan.zarr
      windows of the model's input length centred on each SNV; targets: other variants
  dfimx scan-variants --model m.keras --genome hg38.fa --vcf calls.vcf.gz --window 1000 \\
      --motifs jaspar.meme --on-ref-mismatch skip --workers 8 -o scan.zarr
      motif hits in each reference window are targets too
then:
  dfimx export scan.zarr -o variants.tsv
  dfimx report scan.zarr -o report.html
"""

__all__ = ["add_parser", "cmd_scan_variants"]


def cmd_scan_variants(args: argparse.Namespace) -> int:
    """Run a variant scan from parsed arguments; returns the exit status.

    Examples
    --------
    >>> from dfimx.cli import main
    >>> main(["scan-variants", "--model", "m.keras"])   # doctest: +SKIP
    2
    """
    from dfimx.cli.summary import run_summary  # (as the run) reads the store
    from dfimx.run import scan_variants  # the engine loads only for this command
    from dfimx.store import open_result  # (as the run) the store, to print its summary

    t0 = time.perf_counter()
    opts = merge_config(args)
    require_options(opts, "scan-variants", ("model", "genome", "vcf", "output"))
    for name, value in VARIANT_DEFAULTS.items():
        opts.setdefault(name, value)
    settings = settings_from(opts)
    path = scan_variants(
        opts["model"], opts["genome"], opts["vcf"], output=opts["output"],
        window=opts.get("window"), motifs=opts.get("motifs"),
        p_value_threshold=_given(opts, "p_value_threshold", DEFAULT_P_VALUE_THRESHOLD),
        on_ref_mismatch=opts.get("on_ref_mismatch") or "error",
        max_motif_targets=_given(opts, "max_motif_targets", DEFAULT_MAX_MOTIF_TARGETS),
        max_cis_variants=_given(opts, "max_cis_variants", DEFAULT_MAX_CIS_VARIANTS),
        settings=settings, chunk_size=opts.get("chunk_size") or DEFAULT_VARIANT_CHUNK,
        batch_size=opts.get("batch_size") or DEFAULT_BATCH_SIZE, tasks=opts.get("task"),
        output_layer=opts.get("output_layer") or "logit",
        safe_mode=not opts.get("unsafe_model"), custom_objects=opts.get("custom_objects"),
        workers=opts.get("workers", "auto"),
        scheduler=opts.get("scheduler"), resume=bool(opts.get("resume")),
        overwrite=bool(opts.get("overwrite")),
        progress=not opts.get("no_progress"), command=command_line(),
        config=config_attrs(opts),
    )
    summary = open_result(path).attrs.get("variant_read_summary", "")
    if summary:
        print(summary)
    print("\n".join(run_summary(path, elapsed=time.perf_counter() - t0)))
    return 0


def _given(opts: dict[str, Any], name: str, default: Any) -> Any:
    """``opts[name]``, or ``default`` when it is not given (0 is a value, not "unset")."""
    return default if opts.get(name) is None else opts[name]


def add_parser(sub: Any) -> None:
    """Add ``scan-variants`` to the subparsers ``sub`` of the ``dfimx`` command.

    Parameters
    ----------
    sub
        The object returned by ``ArgumentParser.add_subparsers``.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="dfimx")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["scan-variants", "--model", "m.keras", "--genome", "g.fa",
    ...                           "--vcf", "v.vcf", "--window", "200", "-o", "s.zarr"])
    >>> args.window, args.on_ref_mismatch
    (200, None)
    """
    p = sub.add_parser(
        "scan-variants",
        help="DFIM of every SNV of a VCF against nearby motifs and variants -> Zarr store",
        description=textwrap.fill(
            "One window of the genome per SNV allele; the source is the variant, the "
            "targets are the motif hits of --motifs in the reference window and the other VCF "
        "variants in the window. Null: shuffled flanks with the variant kept in place; "
        "p-values pooled by source-target distance (default), BH q-values over the scan."),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default=None, help=".keras, .h5 or SavedModel directory")
    p.add_argument("--genome", default=None, help="genome FASTA (a .fai index is built if missing)")
    p.add_argument("--vcf", default=None, help="VCF, plain or bgzipped (SNVs are scanned)")
    p.add_argument("--window", type=int, default=None, metavar="BP",
                   help="window length centred on each variant (default: the model's input "
                   "length)")
    p.add_argument("--motifs", default=None, metavar="MEME",
                   help="MEME file: motif hits in the reference window are targets")
    p.add_argument("--p-value-threshold", type=float, default=None, metavar="P",
                   help=f"motif hit threshold (exact p-value, default "
                   f"{DEFAULT_P_VALUE_THRESHOLD:g})")
    p.add_argument("--max-motif-targets", type=int, default=None, metavar="N",
                   help=f"motif targets per window, most significant kept (default "
                   f"{DEFAULT_MAX_MOTIF_TARGETS})")
    p.add_argument("--max-cis-variants", type=int, default=None, metavar="N",
                   help=f"other variants per window as targets, nearest kept (default "
                   f"{DEFAULT_MAX_CIS_VARIANTS}; 0: none)")
    p.add_argument("--on-ref-mismatch", default=None, choices=["error", "skip"],
                   help="a REF that disagrees with the genome is an error (default) or is "
                   "skipped and counted")
    p.add_argument("-o", "--output", default=None, help="output Zarr store")
    common_options(p, VARIANT_DEFAULTS, chunk_help="variants per task and Zarr region "
                   f"(default {DEFAULT_VARIANT_CHUNK})")
    p.set_defaults(func=cmd_scan_variants)
