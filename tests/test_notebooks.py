"""The tutorial notebooks run from top to bottom and reach the conclusions their text states.

Each notebook is executed with nbclient on its own small settings, in a kernel running this
interpreter, from a temporary working directory. A cell appended to the notebook prints the
``results`` dictionary that the notebook's summary cell builds, and the test checks it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_embedded_motifs.ipynb", "02_per_base_map.ipynb", "03_variant_scan.ipynb"]
MARKER = "DFIMX_NOTEBOOK_RESULTS="
REPORT = f"import json\nprint({MARKER!r} + json.dumps(results, default=str))"


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A ``python3`` kernel spec that starts this interpreter, found before any other.

    ``JUPYTER_PATH`` comes first in Jupyter's search path, so a ``python3`` spec installed
    elsewhere (for example in the user's home) cannot redirect the notebooks to another
    environment.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (dfimx tests)",
        "language": "python",
    }))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root))
        mp.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        yield root


def run_notebook(name: str, workdir: Path) -> dict:
    """Execute a notebook and return its ``results`` dictionary."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    for output in nb.cells[-1].outputs:
        for line in output.get("text", "").splitlines():
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER):])
    raise AssertionError(f"{name}: the results cell printed nothing")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "tempfile.mkdtemp" in code[0].source


def test_embedded_motifs_notebook(kernel_path, tmp_path):
    res = run_notebook("01_embedded_motifs.ipynb", tmp_path)
    assert res["heldout_auroc"] > 0.9
    # the true pair ranks first with both attribution methods
    assert res["top_pair_grad_x_input"] == res["true_pair"]
    assert res["top_pair_deeplift"] == res["true_pair"]
    assert res["true_pair_significant_grad_x_input"] > 0.15
    assert res["other_pairs_significant_grad_x_input"] < 0.1
    # DFIM ranks the pairs like the exact double-mutant epistasis
    assert res["spearman_epistasis_grad_x_input"] > 0.3
    assert res["spearman_epistasis_deeplift"] > 0.3
    assert list(tmp_path.iterdir()) == []


def test_per_base_map_notebook(kernel_path, tmp_path):
    res = run_notebook("02_per_base_map.ipynb", tmp_path)
    start, end = res["window"]
    assert res["motif"][0] > start and res["motif"][1] < end
    # the bases of the site interact with each other far more than background bases
    assert res["motif_motif"] > 3 * res["flank_flank"]
    assert res["motif_motif"] > res["flank_motif"]
    # without the partner, the site still interacts with itself; the flanks much less
    assert res["control_motif_motif"] > 3 * res["control_flank_motif"]
    assert res["control_flank_motif"] < res["flank_motif"]
    assert list(tmp_path.iterdir()) == []


def test_variant_scan_notebook(kernel_path, tmp_path):
    res = run_notebook("03_variant_scan.ipynb", tmp_path)
    assert res["variants"] == 56
    # variants breaking one motif of the pair interact with the partner, nothing else does
    assert res["partner_significant"] >= res["partner_tests"] // 4
    assert res["other_significant"] <= max(1, res["other_tests"] // 10)
    assert res["top_variant_design"] == "pair"
    assert list(tmp_path.iterdir()) == []
