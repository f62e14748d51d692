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


def _needs_chromium() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium "
                    "chromium-driver)")


@pytest.mark.browser
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_save_figure_static(store, tmp_path, suffix):
    _needs_chromium()
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


def _content_box(img) -> tuple[int, int, int, int]:
    """Bounding box of the non-white pixels."""
    gray = np.asarray(img.convert("L"))
    rows, cols = np.flatnonzero((gray < 250).any(axis=1)), np.flatnonzero((gray < 250).any(axis=0))
    return cols[0], rows[0], cols[-1] + 1, rows[-1] + 1


@pytest.mark.browser
def test_save_figure_png_at_scale_2_and_3_without_toolbar(store, tmp_path):
    _needs_chromium()
    from PIL import Image

    obj = plot.delta_tracks(store, 0, 0, width=500, height=120)
    model = plot.static_model(obj)
    assert {getattr(m, "toolbar_location", None) for m in model.select({})} == {None}
    sizes = {}
    for scale in (1, 2, 3):
        out = plot.save_figure(obj, tmp_path / f"tracks@{scale}.png", scale_factor=scale)
        sizes[scale] = Image.open(out).size
    w1, h1 = sizes[1]
    for scale in (2, 3):  # scale times the pixels per side, the same layout
        assert sizes[scale] == (w1 * scale, h1 * scale)
    # the same drawing: the scale-3 image shrunk to scale 1 matches it closely
    one = np.asarray(Image.open(tmp_path / "tracks@1.png").convert("L"), float)
    three = Image.open(tmp_path / "tracks@3.png").convert("L").resize((w1, h1), Image.LANCZOS)
    assert np.abs(np.asarray(three, float) - one).mean() < 12
    # no toolbar: the tracks are 500 px wide and nothing is drawn to their right
    x0, _, x1, _ = _content_box(Image.open(tmp_path / "tracks@1.png"))
    assert x1 - x0 <= 500 + 2
    with pytest.raises(ValueError, match="scale_factor"):
        plot.save_figure(obj, tmp_path / "bad.png", scale_factor=0)


@pytest.mark.browser
def test_save_figure_svg_at_scale_3(store, tmp_path):
    _needs_chromium()
    obj = plot.element_map(store, 0)
    out = plot.save_figure(obj, tmp_path / "map.svg", scale_factor=3)
    text = out.read_text()
    assert text.lstrip().startswith("<svg") and "<path" in text
    # vector output: the declared size is the plot's own, whatever the scale
    head = text.split(">", 1)[0]
    assert 'width="520"' in head and 'height="420"' in head


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_publication_figures_without_a_browser(store, tmp_path, suffix, monkeypatch):
    from dfimx.plot.static import logo_figure

    monkeypatch.setenv("DFIMX_CHROMIUM", "/nonexistent")  # a browser would not be found
    fig = logo_figure(store, 0, 0, window=(0, 60))
    assert [ax.get_ylabel() for ax in fig.axes] == ["importance", "importance",
                                                    "\u0394 importance"]
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim() != fig.axes[2].get_ylim()
    out = plot.save_figure(fig, tmp_path / f"logo{suffix}", scale_factor=2)
    head = out.read_bytes()[:200]
    assert {".png": b"\x89PNG", ".svg": b"<svg", ".pdf": b"%PDF"}[suffix] in head
    qq = plot.save_figure(plot.qq_plot(store), tmp_path / f"qq{suffix}", backend="matplotlib")
    assert qq.stat().st_size > 1000
    if suffix == ".png":
        from PIL import Image

        w2, h2 = Image.open(out).size
        w1, h1 = Image.open(plot.save_figure(fig, tmp_path / "logo1.png")).size
        # 200 dpi against 100 dpi (the tight bounding box moves by a few pixels)
        assert abs(w2 / w1 - 2) < 0.02 and abs(h2 / h1 - 2) < 0.02
