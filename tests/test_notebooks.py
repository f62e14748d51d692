"""The tutorial notebooks run from top to bottom and reach the conclusions their text states.

Each notebook is executed with nbclient on its own small settings, in a kernel running this
interpreter, from a temporary working directory. A cell appended to the notebook prints the
``results`` dictionary that the notebook's summary cell builds, and the test checks it.
"""

from __future__ import annotations

import json
import re
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


def _log_outputs(nb) -> list[str]:
    """Text of every stderr stream of an executed notebook (logs, warnings)."""
    return ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code"
            for o in c.outputs if o.output_type == "stream" and o.get("name") == "stderr"]


def run_notebook(name: str, workdir: Path, html_out: Path | None = None) -> dict:
    """Execute a notebook and return its ``results`` dictionary.

    The executed notebook must carry no stderr output (no log cells); with ``html_out``
    it is also exported to static HTML there (nbconvert), as a reader would publish it.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    # dfimx's own warnings are for the reader (e.g. a null pool too small for BH); log
    # lines (TensorFlow, absl) and any other stderr are not
    logs = [text for text in _log_outputs(nb)
            if not re.fullmatch(r"(?s)\S*dfimx\S*\.py:\d+: \w+Warning: .*", text)]
    assert not logs, f"{name}: stderr in the executed notebook: {logs[:3]}"
    if html_out is not None:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        html_out.write_text(body, encoding="utf-8")
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
    # tests of other pairs at q < 0.05: DeepLIFT-GC keeps them under 5%; gradient x input
    # sits at about 5% (0.044 directed, 0.053 symmetric on the README's 150 held-out
    # sequences; 0.051 here on some machines), so its bound allows that level, not more
    others_bound = {"deeplift": 0.05, "grad_x_input": 0.075}
    for method in ("deeplift", "grad_x_input"):
        # the true pair ranks first, most of its tests are significant, few others are
        assert res[f"top_pair_{method}"] == res["true_pair"]
        assert res[f"true_pair_significant_{method}"] > 0.5
        assert res[f"other_pairs_significant_{method}"] < others_bound[method], method
        # DFIM ranks the pairs like the exact double-mutant epistasis
        assert res[f"spearman_epistasis_{method}"] > 0.3
    # the symmetric score of the default follows it more closely still
    assert res["spearman_epistasis_deeplift_sym"] > max(0.6, res["spearman_epistasis_deeplift"])
    assert list(tmp_path.iterdir()) == []


def _painted_plots(page: Path) -> list[int]:
    """Painted pixels of every canvas of a page opened offline in headless Chromium."""
    from test_report_browser import _PAINTED, _WAIT_FOR_BOKEH

    from dfimx import plot

    driver = plot.chrome_webdriver(width=1200, height=900)
    try:
        driver.get(page.resolve().as_uri())
        driver.set_script_timeout(30)
        driver.execute_async_script(_WAIT_FOR_BOKEH)
        return driver.execute_script(_PAINTED)
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def per_base_run(kernel_path, tmp_path_factory):
    """The per-base notebook executed once: (results, its work folder, its static HTML)."""
    workdir = tmp_path_factory.mktemp("per_base_work")
    page = tmp_path_factory.mktemp("static") / "02_per_base_map.html"
    return run_notebook("02_per_base_map.ipynb", workdir, html_out=page), workdir, page


def test_per_base_notebook_renders_in_static_html(per_base_run):
    _, _, page = per_base_run
    # the static HTML holds BokehJS itself: its plots draw offline
    text = page.read_text()
    assert "Bokeh" in text and 'src="https://cdn.bokeh.org' not in text
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed: the page was not drawn")
    painted = _painted_plots(page)
    assert len([n for n in painted if n > 1000]) >= 2, painted


def test_per_base_map_notebook(per_base_run):
    res, tmp_path, _ = per_base_run
    start, end = res["window"]
    assert start < res["motif"][0] < res["motif"][1] < end
    # the bases of the site interact with each other far more than with the flanks
    assert res["motif_motif"] > 5 * res["flank_flank"]
    assert res["motif_motif"] > 5 * res["flank_motif"]
    assert res["significant_tests"] > 0
    assert res["significant_in_motif"] >= 0.8 * res["significant_tests"]
    # without the partner motif the site's interactions fade
    assert res["control_motif_motif"] < 0.5 * res["motif_motif"]
    assert list(tmp_path.iterdir()) == []


def test_variant_scan_notebook(kernel_path, tmp_path):
    res = run_notebook("03_variant_scan.ipynb", tmp_path)
    assert res["variants"] == 56
    # variants breaking one motif of the pair interact with the partner; little else does
    assert res["partner_significant"] >= 0.5 * res["partner_tests"]
    assert res["other_significant"] <= 0.25 * res["other_tests"]
    assert res["top_variant_design"] == "pair"
    assert list(tmp_path.iterdir()) == []
