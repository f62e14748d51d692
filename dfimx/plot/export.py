"""Figures out of the notebook: bokeh models, offline HTML, PNG/SVG through Chromium.

HTML inlines BokehJS and references no URL; PNG and SVG are drawn by a headless
Chromium driven by the system chromedriver (no browser is downloaded), at any scale and
without the toolbar. ``backend="matplotlib"`` draws PNG, SVG or PDF without a browser
(:mod:`dfimx.plot.static`).

Examples
--------
>>> import holoviews as hv
>>> "<script" in standalone_html(hv.Curve([1, 2]))
True
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import holoviews as hv

__all__ = ["chrome_webdriver", "offline_resources", "save_figure", "standalone_html",
           "static_model", "to_bokeh"]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
)


def _find(candidates: Sequence[str], names: Sequence[str]) -> str | None:
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    return None


def chrome_webdriver(width: int = 1400, height: int = 1000, *, scale_factor: float = 1.0,
                     **capabilities: Any) -> Any:
    """Headless Chromium driven by the system chromedriver (no download of any browser).

    Parameters
    ----------
    width, height
        Window size (CSS pixels).
    scale_factor
        Device pixel ratio: screenshots have ``scale_factor`` times more pixels per side.
    **capabilities
        Extra capabilities (e.g. ``{"goog:loggingPrefs": {"browser": "ALL"}}``).

    Returns
    -------
    selenium.webdriver.Chrome

    Raises
    ------
    RuntimeError
        Chromium, chromedriver or selenium is missing, with the command installing them.

    Examples
    --------
    >>> driver = chrome_webdriver()  # doctest: +SKIP
    >>> driver.quit()  # doctest: +SKIP
    """
    browser = os.environ.get("DFIMX_CHROMIUM") or _find(
        CHROMIUM_CANDIDATES, ["chromium", "chromium-browser", "google-chrome"])
    driver_path = os.environ.get("DFIMX_CHROMEDRIVER") or _find(
        CHROMEDRIVER_CANDIDATES, ["chromedriver"])
    if browser is None or driver_path is None:
        raise RuntimeError(
            "PNG/SVG export needs a headless Chromium and its chromedriver, which were not "
            "found (install them with: apt-get install chromium chromium-driver; or set "
            "DFIMX_CHROMIUM / DFIMX_CHROMEDRIVER); HTML export works without them"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:  # pragma: no cover - selenium is a test dependency
        raise RuntimeError("PNG/SVG export needs the selenium package (pip install selenium)") \
            from err
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in HEADLESS_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--force-device-scale-factor={float(scale_factor):g}")
    for key, val in capabilities.items():
        options.set_capability(key, val)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def to_bokeh(obj: Any, *, output_backend: str | None = "canvas") -> Any:
    """Render a holoviews object (or pass a bokeh model through) to a bokeh model.

    Parameters
    ----------
    obj
        holoviews object or bokeh model. A HoloMap is rendered at its first key.
    output_backend
        Set every plot's bokeh ``output_backend`` (``"canvas"``, ``"svg"``,
        ``"webgl"``); ``None`` keeps holoviews' choice.

    Returns
    -------
    bokeh.model.Model

    Examples
    --------
    >>> to_bokeh(hv.Curve([1, 2])).__class__.__name__
    'figure'
    """
    from bokeh.model import Model
    from bokeh.models import Plot

    if not isinstance(obj, Model):
        if isinstance(obj, hv.HoloMap) and not isinstance(obj, hv.DynamicMap) and len(obj):
            obj = obj[obj.keys()[0]]
        obj = hv.render(obj, backend="bokeh")
    if output_backend is not None:
        for plot in obj.select({"type": Plot}):
            plot.output_backend = output_backend
    return obj


def offline_resources() -> Any:
    """Inline BokehJS resources that never reference a URL.

    bokeh adds the ``__javascript__`` / ``__css__`` URLs of every imported extension
    model (e.g. panel's, which holoviews imports) to any page it writes, even when
    the page does not use them; these resources keep only the inline bundles.

    Returns
    -------
    bokeh.resources.Resources

    Examples
    --------
    >>> offline_resources().js_files
    []
    """
    from bokeh.resources import Resources

    class OfflineResources(Resources):
        def _collect_external_resources(self, resource_attr: Any) -> list[str]:
            return []

        def clone(self, *, components: list[Any] | None = None) -> Resources:
            return OfflineResources(
                mode="inline", minified=self.minified, log_level=self.log_level,
                components=components if components is not None else list(self.components),
            )

    return OfflineResources(mode="inline")


def standalone_html(
    models: Any,
    *,
    title: str = "dfimx",
    template: Any = None,
    template_variables: dict[str, Any] | None = None,
) -> str:
    """HTML page holding ``models`` with BokehJS inline and no external resource.

    Parameters
    ----------
    models
        A holoviews object, a bokeh model, or a list of bokeh models.
    title
        Page title.
    template, template_variables
        Passed to :func:`bokeh.embed.file_html` (a Jinja2 template extending bokeh's
        ``file.html``, and its variables).

    Returns
    -------
    str

    Examples
    --------
    >>> html = standalone_html(hv.Curve([1, 2, 3]))
    >>> "https://" in html.split("<script", 1)[0]
    False
    """
    from bokeh.embed import file_html

    if not isinstance(models, (list, tuple)):
        models = [to_bokeh(models)]
    return file_html(list(models), resources=offline_resources(), title=title,
                     template=template, template_variables=template_variables or {})


def static_model(obj: Any, *, output_backend: str = "canvas") -> Any:
    """A bokeh model for a static figure: no toolbar anywhere (plots and layouts).

    Examples
    --------
    >>> model = static_model(hv.Curve([1, 2]) + hv.Curve([2, 1]))
    >>> {getattr(m, "toolbar_location", None) for m in model.select({})} == {None}
    True
    """
    model = to_bokeh(obj, output_backend=output_backend)
    for m in model.select({}):
        if hasattr(m, "toolbar_location"):
            m.toolbar_location = None
    return model


def save_figure(
    obj: Any,
    path: str | os.PathLike,
    *,
    title: str = "dfimx",
    scale_factor: float = 1.0,
    backend: Literal["bokeh", "matplotlib"] = "bokeh",
) -> Path:
    """Save a plot as a self-contained HTML file, or a static PNG, SVG or PDF.

    The format follows the suffix of ``path``. HTML inlines BokehJS (viewing it needs
    no network). With the bokeh backend, PNG and SVG are drawn by a headless Chromium
    through selenium and the system chromedriver (Debian: ``apt-get install chromium
    chromium-driver``), without the toolbar; for SVG the plots use bokeh's SVG output
    backend, so the file holds vector graphics. With ``backend="matplotlib"`` (or a
    matplotlib figure, e.g. from :func:`dfimx.plot.static.logo_figure`) no browser is
    needed: holoviews' matplotlib backend draws the figure, which is saved as PNG, SVG
    or PDF.

    Parameters
    ----------
    obj
        holoviews object, bokeh model or matplotlib figure.
    path
        Output file ending in ``.html``, ``.png`` or ``.svg`` (and ``.pdf`` with
        matplotlib).
    title
        HTML page title.
    scale_factor
        Resolution multiplier of PNGs (any value above 0, e.g. 2 or 3 for print): the
        image has ``scale_factor`` times more pixels per side (matplotlib: 100 ×
        ``scale_factor`` dpi).
    backend
        ``"bokeh"`` (the interactive plots, drawn by Chromium) or ``"matplotlib"``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    RuntimeError
        PNG/SVG requested with the bokeh backend but Chromium or chromedriver is not
        installed.

    Examples
    --------
    >>> import tempfile
    >>> out = save_figure(hv.Curve([1, 3, 2]), tempfile.mkdtemp() + "/curve.html")
    >>> out.suffix
    '.html'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not (isinstance(scale_factor, (int, float)) and scale_factor > 0):
        raise ValueError(f"scale_factor must be a number above 0, got {scale_factor!r}")
    if backend not in ("bokeh", "matplotlib"):
        raise ValueError(f"backend must be 'bokeh' or 'matplotlib', got {backend!r}")
    if backend == "matplotlib" or type(obj).__module__.startswith("matplotlib"):
        if suffix not in (".png", ".svg", ".pdf"):
            raise ValueError(f"{path}: unsupported format {suffix!r} for matplotlib "
                             "(use .png, .svg or .pdf)")
        from dfimx.plot.static import to_matplotlib  # function-level: matplotlib is optional

        fig = to_matplotlib(obj)
        fig.savefig(os.fspath(path), dpi=100 * scale_factor, bbox_inches="tight")
        return path
    if suffix not in (".html", ".png", ".svg"):
        raise ValueError(f"{path}: unsupported format {suffix!r} (use .html, .png or .svg)")
    if suffix == ".html":
        model = to_bokeh(obj)
        path.write_text(standalone_html([model], title=title), encoding="utf-8")
        return path
    from bokeh.io.export import get_screenshot_as_png, get_svg

    model = static_model(obj, output_backend="svg" if suffix == ".svg" else "canvas")
    driver = chrome_webdriver(scale_factor=scale_factor if suffix == ".png" else 1.0)
    try:
        if suffix == ".png":
            image = get_screenshot_as_png(model, driver=driver, resources=offline_resources(),
                                          scale_factor=scale_factor)
            if image.width == 0 or image.height == 0:
                raise RuntimeError(f"{path}: the browser drew an empty image")
            image.save(os.fspath(path))
        else:
            svgs = get_svg(model, driver=driver, resources=offline_resources())
            if not svgs:
                raise RuntimeError(f"{path}: the browser returned no SVG")
            path.write_text(svgs[0], encoding="utf-8")
    finally:
        driver.quit()
    return path
