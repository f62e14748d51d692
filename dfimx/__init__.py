"""dfimx: Deep Feature Interaction Maps on xarray, Dask and Zarr.

Estimate epistatic interactions between DNA sequence features (nucleotides, motifs,
variants) from trained Keras models: mutate a source feature, recompute importance
scores, measure how the importance of every other feature changes, and calibrate
the scores against shuffled sequences.

The package is laid out as its pipeline: sequences -> plans -> mutants -> attribution
-> dfim (deltas, scores, null) -> stats -> store -> tables / plot / report; see the
README, "Architecture".

Examples
--------
>>> import dfimx                                               # doctest: +SKIP
>>> ds = dfimx.from_fasta("seqs.fa")                           # doctest: +SKIP
>>> ds = dfimx.plan_elements(ds, "elements.tsv")               # doctest: +SKIP
>>> result = dfimx.compute_dfim(ds, "model.keras")             # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from dfimx import compat
from dfimx.errors import InputError
from dfimx.version import __version__

#: Public names and the module each comes from, imported on first use: ``import dfimx``
#: (and so the command line's ``--help`` and argument checks) loads neither Dask, xarray,
#: Zarr nor TensorFlow until a name that needs them is used.
_LAZY = {
    "METHODS": "dfimx.attribution",
    "attribute": "dfimx.attribution",
    "compute_dfim": "dfimx.dfim",
    "plan_elements": "dfimx.plans",
    "plan_mut_dict": "dfimx.plans",
    "plan_scan": "dfimx.plans",
    "from_fasta": "dfimx.sequences",
    "from_onehot": "dfimx.sequences",
    "from_strings": "dfimx.sequences",
    "Settings": "dfimx.settings",
    "open_result": "dfimx.store",
    "write_store": "dfimx.store",
    "validate": "dfimx.variables",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dfimx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


compat.install()

__all__ = [
    "METHODS",
    "InputError",
    "Settings",
    "__version__",
    "attribute",
    "compute_dfim",
    "from_fasta",
    "from_onehot",
    "from_strings",
    "open_result",
    "plan_elements",
    "plan_mut_dict",
    "plan_scan",
    "validate",
    "write_store",
]
