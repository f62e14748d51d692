"""Deprecated import paths of dfimx 0.1, kept for one release.

dfimx 0.2 lays the package out as its pipeline (see the README, "Architecture").  The
0.1 module paths below still import, with a :class:`DeprecationWarning` that names the
new home; they will be removed in 0.3.

Examples
--------
>>> import sys, warnings
>>> _ = sys.modules.pop("dfimx.api", None)        # as in a fresh process
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     from dfimx.api import run_dfim
>>> run_dfim.__module__, caught[0].category.__name__
('dfimx.run', 'DeprecationWarning')
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: 0.1 module -> the modules that hold its public names now (earlier ones win).
MOVED: dict[str, tuple[str, ...]] = {
    "dfimx.api": ("dfimx.run", "dfimx.plans"),
    "dfimx.pipeline": ("dfimx.settings", "dfimx.dfim", "dfimx.models", "dfimx.run"),
    "dfimx.mutations": ("dfimx.plans", "dfimx.mutants"),
    "dfimx.maps": ("dfimx.dfim.maps",),
    "dfimx.epistasis": ("dfimx.dfim.epistasis",),
    "dfimx.variants_cli": ("dfimx.cli.variants",),
    "dfimx.export": ("dfimx.tables",),
    "dfimx.deeplift_backend": ("dfimx.attribution.package",),
    "dfimx.variant_scan": ("dfimx.run", "dfimx.plans.variants"),
    "dfimx.variants": ("dfimx.io.vcf", "dfimx.windows", "dfimx.io.fasta"),
    "dfimx.motif_scan": ("dfimx.motifs.scan", "dfimx.motifs.pwm", "dfimx.plans.variants"),
    "dfimx.genome_sim": ("dfimx.simulate.genome",),
}


def _public(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the 0.1 module names and builds them from their new homes."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):  # noqa: D102
        return None

    def exec_module(self, module: types.ModuleType) -> None:  # noqa: D102
        homes = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} is deprecated and will be removed in dfimx 0.3; "
                      f"import from {' or '.join(homes)}", DeprecationWarning, stacklevel=2)
        for home in reversed(homes):
            source = importlib.import_module(home)
            for name in _public(source):
                setattr(module, name, getattr(source, name))


def install() -> None:
    """Make the 0.1 module paths importable (called once by ``import dfimx``)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())


def register(old: str, *homes: str) -> None:
    """Declare one more moved module (used by subpackages that absorbed a 0.1 module)."""
    MOVED[old] = homes
