"""The HTML report: self-contained, and drawn by a real headless Chromium offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dfimx import plot, report
from dfimx.testing import example_result, external_refs, write_example_store

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def run_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "run.zarr"
    write_example_store(example_result(400, variants=True), path, chunk=100)
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
                   "Top 15 interactions", "Details of the top interactions", "Variants"]:
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
    assert "per-base map" in out.read_text()


@pytest.mark.browser
def test_report_in_headless_chromium(report_html, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium "
                    "chromium-driver)")
    driver = plot.chrome_webdriver(
        width=1500, height=1200,
        **{"goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}},
    )
    try:
        driver.get(report_html.resolve().as_uri())
        driver.set_script_timeout(30)
        n_roots = driver.execute_async_script(
            """
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
        )
        assert n_roots >= 6
        painted = driver.execute_script(
            """
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
        )
        assert len([n for n in painted if n > 1000]) >= 6, painted
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
        driver.set_window_size(1500, 5000)
        shot = tmp_path / "report.png"
        driver.find_element("tag name", "body").screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        shutil.copy(shot, "/tmp/dfimx_report.png")
    finally:
        driver.quit()
