"""``dfimx demo``: the embedded default job, end to end.

Simulates sequences with an interacting motif pair and decoys, trains (or reuses) a
small CNN, runs DFIM with a shuffled-sequence null on a local Dask cluster, writes the
Zarr store, the tidy table, a pair summary and the HTML report, and prints the top
interactions.

Examples
--------
>>> from dfimx.demo import run_demo   # doctest: +SKIP
>>> run_demo("dfimx-demo")            # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from dfimx import simulate
from dfimx.report import write_report
from dfimx.run import run_dfim
from dfimx.settings import DEMO_N, DEMO_WORKERS, Settings, with_plan_defaults
from dfimx.store import open_result
from dfimx.tables import export_table, write_pair_summary

DEMO_SEED = 11


def run_demo(
    output: str | os.PathLike = "dfimx-demo",
    *,
    workers: int | str = DEMO_WORKERS,
    n: int | None = None,
    progress: bool = True,
    echo: Any = print,
) -> dict[str, Path]:
    """Run the demo into ``output`` and return the paths it wrote."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model_path = out / "model.keras"
    echo(f"[1/5] model: {model_path} (trained on simulated A-and-B sequences if missing)")
    simulate.cached_demo_model(model_path)
    sim = simulate.simulate_sequences(
        n or DEMO_N, simulate.DEMO_SETTINGS["length"], seed=DEMO_SEED, id_prefix="demo"
    )
    fasta = sim.to_fasta(out / "sequences.fa")
    elements = sim.elements_tsv(out / "elements.tsv")
    a, b = sim.true_pair_names
    echo(f"[2/5] {len(sim)} simulated sequences, true pair {a} x {b}, decoys "
         f"{', '.join(sim.decoy_names)}")
    store = out / "demo.zarr"
    settings = Settings()
    shown = with_plan_defaults(settings, "elements")  # what the run resolves for this plan
    where = "in this process" if workers in (0, "auto") else f"on {workers} local workers"
    echo(f"[3/5] DFIM ({shown.method}, {shown.reference} references; {shown.null} null) "
         f"{where} -> {store}")
    run_dfim(
        str(model_path), str(fasta), elements=str(elements), output=str(store),
        settings=settings, workers=workers, chunk_size=32, progress=progress,
        command=f"dfimx demo -o {output}",
    )
    ds = open_result(store)
    table = out / "interactions.tsv"
    rows = export_table(ds, table)
    summary_path = write_pair_summary(ds, table)
    summary = pd.read_csv(summary_path, sep="\t")
    echo(f"[4/5] {rows} interactions -> {table}, summary per pair -> {summary_path}")
    paths = {"store": store, "table": table, "summary": Path(summary_path)}
    report = out / "report.html"
    write_report(ds, report)
    paths["report"] = report
    echo(f"[5/5] report -> {report}")
    echo("")
    echo("Interactions per pair of element names (true pair first if DFIM separates it):")
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        echo(summary.head(12).to_string(index=False))
    echo(f"\ndone in {time.perf_counter() - t0:.0f} s")
    return paths
