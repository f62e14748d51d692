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

from dfimx import compat
from dfimx.attribution import METHODS, attribute
from dfimx.dfim import compute_dfim
from dfimx.errors import InputError
from dfimx.plans import plan_elements, plan_mut_dict, plan_scan
from dfimx.sequences import from_fasta, from_onehot, from_strings
from dfimx.settings import Settings
from dfimx.store import open_result, write_store
from dfimx.variables import validate
from dfimx.version import __version__

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
