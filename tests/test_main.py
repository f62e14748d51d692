"""``python -m dfimx``: start-up without the engine, refusals before the model, and the
local execution choice.

Each check runs a fresh interpreter and reads its ``sys.modules``: ``--help`` loads
neither TensorFlow nor Dask, xarray or Zarr, and a refused input exits (status 2) before
TensorFlow is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys
from dfimx.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
names = ("tensorflow", "keras", "dask", "xarray", "zarr", "distributed")
print(json.dumps({"rc": rc, "loaded": [n for n in names if n in sys.modules]}))
"""


def _probe(*args: str, cwd: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_loads_no_engine(tmp_path):
    for args in (["--help"], ["run", "--help"], ["scan-variants", "--help"]):
        got = _probe(*args, cwd=tmp_path)
        assert got == {"rc": 0, "loaded": []}, args


@pytest.mark.parametrize("args", [
    ["run", "--model", "m.keras", "--fasta", "missing.fa", "--elements", "e.tsv", "-o", "o"],
    ["run", "--model", "nope.keras", "--fasta", "s.fa", "--elements", "e.tsv", "-o", "o"],
    ["run", "--model", "m.keras", "--fasta", "s.fa", "--elements", "e.tsv", "-o", "o",
     "--null-draws", "0"],
])
def test_a_refused_input_exits_before_tensorflow(tmp_path, args):
    (tmp_path / "m.keras").write_bytes(b"not read: refused before the model loads")
    (tmp_path / "s.fa").write_text(">a\nACGTACGT\n")
    (tmp_path / "e.tsv").write_text("seq\tstart\tend\tname\na\t0\t2\tx\n")
    got = _probe(*args, cwd=tmp_path)
    assert got["rc"] == 2
    assert "tensorflow" not in got["loaded"] and "keras" not in got["loaded"]


def test_auto_runs_the_demo_size_in_this_process():
    from dfimx import simulate
    from dfimx.demo import DEMO_N
    from dfimx.execution import PROCESS_MIN_CORES, attribution_work, local_workers
    from dfimx.plans import plan_elements
    from dfimx.sequences import from_strings
    from dfimx.settings import Settings

    sim = simulate.simulate_sequences(DEMO_N, simulate.DEMO_SETTINGS["length"], seed=1)
    ds = plan_elements(from_strings(sim.sequences, ids=sim.seq_ids), sim.elements)
    work = attribution_work(ds, Settings().validate())
    assert work > 1e6  # every sequence, mutant and null draw is counted
    for cores in (2, PROCESS_MIN_CORES, 64):  # whatever the machine
        assert local_workers("auto", work, cores=cores) == 0
    assert local_workers("auto", 1e4 * work, cores=16) == 8
    assert local_workers("auto", 1e4 * work, cores=2) == 0
    assert local_workers(0, work) == 0 and local_workers(None, work) is None
