"""DFIM itself: the array kernel, score reductions, the null, the lazy graph, exact epistasis.

* :mod:`dfimx.dfim.maps`: masks and reductions of delta profiles (numpy).
* :mod:`dfimx.dfim.null`: shuffled null sequences, seeded per sequence.
* :mod:`dfimx.dfim.kernel`: one chunk of sequences -> its scores (numpy + the model).
* :mod:`dfimx.dfim.graph`: the lazy xarray/Dask layer, :func:`compute_dfim`.
* :mod:`dfimx.dfim.epistasis`: exact double-mutant ISM epistasis, the check on DFIM.
"""

from __future__ import annotations

from dfimx.dfim.epistasis import double_mutant_epistasis
from dfimx.dfim.graph import compute_dfim, output_variables
from dfimx.dfim.kernel import dfim_block

__all__ = ["compute_dfim", "dfim_block", "double_mutant_epistasis", "output_variables"]
