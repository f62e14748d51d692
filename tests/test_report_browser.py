"""The HTML report: self-contained, and drawn by a real headless Chromium offline."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from dfimx import plot, report
from dfimx.plot.headline import base_pair_table, pair_table, variant_top_table
from dfimx.testing import example_result, external_refs, write_example_store

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def run_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "run.zarr"
    write_example_store(example_result(400), path, chunk=100)
    return path


@pytest.fixture(scope="module")
def report_html(run_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    return report.write_report(run_store, out, top=15, max_maps=2)


def test_report_is_self_contained(report_html):
    text = report_html.read_text()
    assert external_refs(text) == []
    assert "<link" not in text
    for needle in ["Provenance", "model_sha256", "dfimx run --model m.keras",
                   "Interactions per element pair", "fraction_significant", "QQ plot",
                   "Top 15 interactions", "Details of the top interactions", 'id="headline"']:
        assert needle in text, needle
    assert report_html.stat().st_size < 5_000_000


def test_report_without_null(run_store, tmp_path):
    ds = plot.open_dataset(run_store).drop_vars(
        ["interaction_p_value", "interaction_q_value", "null_interaction_score"])
    out = report.write_report(ds, tmp_path / "nonull.html", max_maps=1)
    text = out.read_text()
    assert "no null was run" in text
    assert "fraction_significant" not in text
    assert external_refs(text) == []


def test_report_of_per_base_scan(tmp_path):
    ds = example_result(30, per_base=True, n_tasks=1, keep_delta=False)
    store = write_example_store(ds, tmp_path / "scan.zarr", chunk=10)
    out = report.write_report(store, tmp_path / "scan.html", max_maps=1)
    text = out.read_text()
    assert "per-base map" in text and "Top base pairs" in text


SCREEN = (1400, 900)  # a laptop's first screenful, in CSS pixels


def screenshot_dir() -> Path:
    """Where the browser tests leave their screenshots (``DFIMX_SCREENSHOT_DIR``)."""
    out = Path(os.environ.get("DFIMX_SCREENSHOT_DIR")
               or Path(tempfile.gettempdir()) / "dfimx-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium "
                    "chromium-driver)")


_WAIT_FOR_BOKEH = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function wait() {
  const docs = window.Bokeh && Bokeh.documents;
  const idle = docs && docs.length > 0 && docs.every(d => d.is_idle);
  if (idle || Date.now() - t0 > 25000) {
    done(docs && docs.length ? docs[0].roots().length : -1);
  } else { setTimeout(wait, 100); }
})();
"""

_PAINTED = """
const canvases = [];
const walk = (root) => {
  for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'CANVAS') canvases.push(el);
    if (el.shadowRoot) walk(el.shadowRoot);
  }
};
walk(document);
return canvases.map(c => {
  if (!c.width || !c.height) return 0;
  const ctx = c.getContext('2d');
  if (!ctx) return 0;
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  return n;
});
"""

_FIRST_SCREEN = """
const inView = (el) => {
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
};
const head = document.getElementById(arguments[0]);
const row = document.querySelector('#' + arguments[1] + ' tbody tr');
return {headline: head ? head.innerText : null, headline_in_view: inView(head),
        row: row ? row.innerText : null, row_in_view: inView(row),
        height: window.innerHeight};
"""


def _open(driver, page: Path, name: str) -> dict:
    """Load ``page``, wait for BokehJS, save the first screenful and the whole page."""
    driver.set_window_size(*SCREEN)
    driver.get(page.resolve().as_uri())
    driver.set_script_timeout(30)
    n_roots = driver.execute_async_script(_WAIT_FOR_BOKEH)
    first = screenshot_dir() / f"{name}_first_screen.png"
    driver.save_screenshot(str(first))
    assert first.stat().st_size > 10_000
    return {"n_roots": n_roots, "first": first}


def _full_page(driver, name: str) -> Path:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(SCREEN[0], min(12_000, height + 100))
    shot = screenshot_dir() / f"{name}_full.png"
    driver.find_element("tag name", "body").screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    return shot


@pytest.mark.browser
def test_report_in_headless_chromium(run_store, report_html):
    _needs_chromium()
    driver = plot.chrome_webdriver(
        width=SCREEN[0], height=SCREEN[1],
        **{"goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}},
    )
    try:
        got = _open(driver, report_html, "report_elements")
        assert got["n_roots"] >= 5
        # the first screenful answers: the headline and the top pair of the pair table
        screen = driver.execute_script(_FIRST_SCREEN, "headline", "pairs")
        table = pair_table(plot.open_dataset(run_store))
        best = table.iloc[0]
        assert screen["headline_in_view"] and screen["row_in_view"], screen
        assert f"{best['source_name']} \u2192 {best['target_name']}" in screen["headline"]
        assert "interact" in screen["headline"] and "tests" in screen["headline"]
        assert screen["row"].split("\t")[:3] == [best["source_name"], best["target_name"],
                                                 best["task"]]
        painted = driver.execute_script(_PAINTED)
        assert len([n for n in painted if n > 1000]) >= 5, painted
        logs = driver.get_log("browser")
        errors = [e for e in logs if e["level"] == "SEVERE"]
        assert not errors, errors
        urls = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        assert urls, "the performance log recorded no request at all"
        external = [u for u in urls if not u.startswith(("file://", "data:", "blob:"))]
        assert not external, external
        _full_page(driver, "report_elements")
    finally:
        driver.quit()


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["per_base", "variants"])
def test_scan_reports_in_headless_chromium(kind, tmp_path):
    _needs_chromium()
    if kind == "per_base":
        ds = example_result(30, per_base=True, n_tasks=1, keep_delta=False)
    else:
        ds = example_result(120, variants=True)
    store = write_example_store(ds, tmp_path / f"{kind}.zarr", chunk=40)
    page = report.write_report(store, tmp_path / f"{kind}.html", max_maps=1)
    top = report.top_interactions(store, 20)
    if kind == "per_base":
        labelled = base_pair_table(store, top).iloc[0]
        want = f"{labelled['source']} \u2192 {labelled['target']}"
        first_cells = [labelled["seq_id"], labelled["source"], labelled["target"]]
    else:
        labelled = variant_top_table(store, top).iloc[0]
        want = f"{labelled['variant']} ({labelled['variant_id']})"
        first_cells = [labelled["variant"], labelled["variant_id"], labelled["target_name"]]
    driver = plot.chrome_webdriver(width=SCREEN[0], height=SCREEN[1],
                                   **{"goog:loggingPrefs": {"browser": "ALL"}})
    try:
        got = _open(driver, page, f"report_{kind}")
        assert got["n_roots"] >= 3
        screen = driver.execute_script(_FIRST_SCREEN, "headline", "top-labelled")
        assert screen["headline_in_view"] and screen["row_in_view"], screen
        assert want in screen["headline"], (want, screen["headline"])
        assert screen["row"].split("\t")[:3] == first_cells
        painted = driver.execute_script(_PAINTED)
        assert len([n for n in painted if n > 1000]) >= 3, painted
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        _full_page(driver, f"report_{kind}")
    finally:
        driver.quit()
