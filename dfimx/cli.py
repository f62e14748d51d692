"""The ``dfimx`` command line (DESIGN section 4).

Errors in the input print one line naming the file, record and problem, and exit
with status 2.

Examples
--------
$ dfimx run --model m.keras --fasta s.fa --elements el.tsv -o out.zarr
$ dfimx export out.zarr -o interactions.tsv
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from dfimx.errors import InputError

EXIT_INPUT_ERROR = 2


def _common_options(p: argparse.ArgumentParser) -> None:
    from dfimx.pipeline import Settings

    d = Settings()
    g = p.add_argument_group("method")
    g.add_argument("--method", default=None, help=f"attribution method (default {d.method})")
    g.add_argument("--reference", default=None,
                   help="zeros, gc or dinuc (default: gc for deeplift, dinuc for deepshap, "
                   "zeros otherwise)")
    g.add_argument("--n-references", type=int, default=None,
                   help=f"references per sequence for dinuc/deepshap (default {d.n_references})")
    g.add_argument("--mutation", default=None,
                   help="element replacement: gc, zeros or shuffle (default gc, the GC "
                        "background that is also DeepLIFT's default reference)")
    g.add_argument("--n-shuffles", type=int, default=None,
                   help=f"shuffles per element in --mutation shuffle (default {d.n_shuffles})")
    g.add_argument("--gc", type=float, default=None, help="GC fraction of gc backgrounds (0.46)")
    g.add_argument("--score", default=None, help="sum, abs_sum or max_abs (default sum)")
    g.add_argument("--steps", type=int, default=None, help="integrated-gradients steps")
    g = p.add_argument_group("null model")
    g.add_argument("--null", default=None, help="dinuc, shuffle or none (default dinuc)")
    g.add_argument("--null-draws", type=int, default=None,
                   help=f"shuffled copies per sequence (default {d.null_draws})")
    g.add_argument("--pvalue", default=None, help="empirical or gaussian (default empirical)")
    g.add_argument("--null-level", default=None,
                   help="global, task, map or distance (default global)")
    g.add_argument("--keep-null", action="store_true", default=None,
                   help="store null_interaction_score")
    g = p.add_argument_group("model")
    g.add_argument("--task", action="append", default=None,
                   help="task name or index to score (repeatable; default all)")
    g.add_argument("--output-layer", default=None, choices=["logit", "output"],
                   help="score the pre-activation logit (default) or the output")
    g.add_argument("--unsafe-model", action="store_true", default=None,
                   help="load Keras models with safe_mode=False (only for trusted files)")
    g = p.add_argument_group("execution")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--chunk-size", type=int, default=None,
                   help="sequences per task and Zarr region (default: from the plan, <= 512)")
    g.add_argument("--batch-size", type=int, default=None, help="model batch size (256)")
    g.add_argument("--workers", type=int, default=None, help="local worker processes")
    g.add_argument("--scheduler", default=None, help="connect to tcp://HOST:PORT")
    g.add_argument("--resume", action="store_true", default=None,
                   help="finish an interrupted store")
    g.add_argument("--keep-delta", action="store_true", default=None, help="store delta")
    g.add_argument("--keep-importance", action="store_true", default=None,
                   help="store seq_importance")
    g.add_argument("--no-progress", action="store_true", default=None)
    g.add_argument("--config", default=None, help="YAML file with the same options")


_SETTING_KEYS = {
    "method": "method", "reference": "reference", "n_references": "n_references",
    "mutation": "mutation", "n_shuffles": "n_shuffles", "gc": "gc", "score": "score",
    "null": "null", "null_draws": "null_draws", "pvalue": "pvalue", "null_level": "null_level",
    "seed": "seed", "keep_delta": "keep_delta", "keep_importance": "keep_importance",
    "keep_null": "keep_null",
}


def _merge_config(args: argparse.Namespace) -> dict[str, Any]:
    """Options from --config, overridden by those given on the command line."""
    opts: dict[str, Any] = {}
    if getattr(args, "config", None):
        import yaml

        path = args.config
        if not Path(path).is_file():
            raise InputError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: invalid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: expected a mapping of option: value")
        known = set(vars(args))
        for key, value in loaded.items():
            k = str(key).replace("-", "_")
            if k not in known or k in ("command", "func", "config"):
                raise InputError(f"{path}: unknown option {key!r}")
            opts[k] = value
        opts["config_file"] = path
    for k, v in vars(args).items():
        if v is not None and k not in ("func", "config"):
            opts[k] = v
    return opts


def _settings_from(opts: dict[str, Any]):
    from dfimx.pipeline import Settings

    kwargs = {v: opts[k] for k, v in _SETTING_KEYS.items() if opts.get(k) is not None}
    if opts.get("steps"):
        kwargs["method_options"] = (("steps", int(opts["steps"])),)
    return Settings(**kwargs).validate()


def cmd_run(args: argparse.Namespace) -> int:
    from dfimx.api import run_dfim

    opts = _merge_config(args)
    for need in ("model", "fasta", "output"):
        if not opts.get(need):
            raise InputError(f"run: --{need} is required (on the command line or in --config)")
    settings = _settings_from(opts)
    path = run_dfim(
        opts["model"], opts["fasta"], output=opts["output"],
        elements=opts.get("elements"), mut_dict=opts.get("mut_dict"), scan=opts.get("scan"),
        settings=settings, length=opts.get("length"), chunk_size=opts.get("chunk_size"),
        batch_size=opts.get("batch_size") or 256, tasks=opts.get("task"),
        output_layer=opts.get("output_layer") or "logit",
        safe_mode=not opts.get("unsafe_model"), workers=opts.get("workers"),
        scheduler=opts.get("scheduler"), resume=bool(opts.get("resume")),
        progress=not opts.get("no_progress"), command=_command_line(),
        config=_config_attrs(opts),
    )
    print(f"wrote {path}")
    return 0


def _config_attrs(opts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in opts.items() if isinstance(v, (str, int, float, bool, list))}


def _command_line() -> str:
    return "dfimx " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def cmd_export(args: argparse.Namespace) -> int:
    from dfimx.export import export_table, write_pair_summary

    rows = export_table(args.store, args.output)
    print(f"wrote {rows} rows to {args.output}")
    summary = write_pair_summary(args.store, args.output)
    if summary is not None:
        print(f"wrote the pair summary to {summary}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dfimx.report import write_report

    write_report(args.store, args.output, top=args.top)
    print(f"wrote {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dfimx.demo import run_demo

    run_demo(args.output, workers=args.workers, n=args.n, progress=not args.no_progress)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dfimx`` command."""
    from dfimx import __version__

    parser = argparse.ArgumentParser(
        prog="dfimx",
        description="Deep Feature Interaction Maps: interactions between DNA sequence "
        "features from neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"dfimx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="DFIM of sequences with a model -> Zarr store")
    p.add_argument("--model", default=None, help=".keras, .h5 or SavedModel directory")
    p.add_argument("--fasta", default=None, help="FASTA (plain, bgzip or gzip)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--elements", default=None, help="TSV/CSV: seq, start, end, name[, role]")
    plan.add_argument("--mut-dict", default=None, help="legacy DFIM mut_dict (JSON/YAML)")
    plan.add_argument("--scan", default=None, help="per-base map of window START:END")
    p.add_argument("--length", type=int, default=None,
                   help="centre-crop/pad sequences to this length")
    p.add_argument("-o", "--output", default=None, help="output Zarr store")
    _common_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("export", help="tidy interaction table from a store")
    p.add_argument("store")
    p.add_argument("-o", "--output", required=True, help="TSV (or .csv)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="self-contained HTML report of a store")
    p.add_argument("store")
    p.add_argument("-o", "--output", required=True, help="HTML file")
    p.add_argument("--top", type=int, default=20, help="top interactions to detail")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="simulate, train, DFIM, null, report (embedded default)")
    p.add_argument("-o", "--output", default="dfimx-demo", help="output directory")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (2)")
    p.add_argument("-n", type=int, default=None, help="number of simulated sequences")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: Any) -> None:
    try:
        from dfimx import variants_cli
    except ImportError:
        return
    variants_cli.add_parser(sub, _common_options)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"dfimx: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("dfimx: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
