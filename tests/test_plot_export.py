"""Tests of dfimx.plot.export: offline HTML and static PNG/SVG figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dfimx import plot
from dfimx.testing import example_result, external_refs, write_example_store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> xr.Dataset:
    return write_example_store(example_result(300), tmp_path_factory.mktemp("plot") / "run.zarr")


def test_save_figure_html_is_offline(store, tmp_path):
    out = plot.save_figure(plot.element_map(store, 0), tmp_path / "map.html")
    text = out.read_text()
    assert "Bokeh" in text
    assert not external_refs(text)
    with pytest.raises(ValueError, match="unsupported format"):
        plot.save_figure(plot.element_map(store, 0), tmp_path / "map.jpg")


@pytest.mark.browser
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_save_figure_static(store, tmp_path, suffix):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium "
                    "chromium-driver)")
    obj = plot.element_map(store, 0) + plot.qq_plot(store)
    out = plot.save_figure(obj, tmp_path / f"f{suffix}")
    data = out.read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        from PIL import Image

        img = Image.open(out)
        assert img.width > 600 and img.height > 300
        assert np.unique(np.asarray(img.convert("L"))).size > 10
    else:
        assert data.lstrip().startswith(b"<svg") and b"<path" in data

