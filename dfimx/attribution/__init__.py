"""Attribution methods on array batches: ``(N, L, 4) -> (N, L, 4, T)``.

The kernels work on numpy arrays and a :class:`dfimx.models.Scorer`; the labeled, lazy
layer lives in :mod:`dfimx.dfim`.  Methods are registered in :data:`METHODS` and
selected by name through :func:`attribute`.

Methods: ``gradient``, ``grad_x_input``, ``integrated_gradients`` (expected IG when
several references are given), ``guided_backprop`` (:mod:`.backprop`), ``deeplift``
(Rescale rule) and ``deepshap`` (DeepLIFT averaged over dinucleotide-shuffled
references, :mod:`.deeplift`), ``ism`` (:mod:`.mutagenesis`) and the deeplift-package
backends ``deeplift-package:rescale``, ``deeplift-package:revealcancel`` and
``deeplift-package:genomics_default`` (the plug-in :mod:`.package`).  See the README,
"Attribution methods".

Modules: :mod:`.registry` (the method registry and :func:`attribute`),
:mod:`.references`, :mod:`.edits` (gradients of edited sequences from their
originals' forward pass), :mod:`.diagnostics` (summation-to-delta), :mod:`.rules` (modified
backward rules over a Keras graph), :mod:`.conv_fold` (the folded Conv1D input
gradient), :mod:`.package_worker` (the deeplift package's own process).  Importing this
package does not import TensorFlow.

Examples
--------
>>> import numpy as np, keras
>>> from dfimx.models import build_scorer
>>> inp = keras.Input((8, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
>>> scorer = build_scorer(keras.Model(inp, out))
>>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (3, 8))]
>>> attribute(scorer, X, method="grad_x_input").shape
(3, 8, 4)
"""

from __future__ import annotations

from dfimx.attribution.backprop import (
    gradients,
    gradients_and_outputs,
    guided_backprop,
    integrated_gradients,
)
from dfimx.attribution.deeplift import deeplift_scores
from dfimx.attribution.diagnostics import (
    DEBUG_TOLERANCE,
    RUN_TOLERANCE,
    collect_violations,
    last_diagnostics,
    last_summation_delta_violation,
    summation_delta_violation,
)
from dfimx.attribution.edits import edit_position_sums
from dfimx.attribution.mutagenesis import ism
from dfimx.attribution.package import deeplift_package_scores
from dfimx.attribution.references import (
    DEFAULT_N_SHUFFLED_REFERENCES,
    REFERENCES,
    as_references,
    make_references,
)
from dfimx.attribution.registry import (
    METHODS,
    Method,
    attribute,
    attribute_and_predict,
    cached_scorer,
    get_method,
    register_method,
)
from dfimx.models import predict_batched

__all__ = [
    "DEBUG_TOLERANCE",
    "DEFAULT_N_SHUFFLED_REFERENCES",
    "METHODS",
    "REFERENCES",
    "RUN_TOLERANCE",
    "Method",
    "as_references",
    "attribute",
    "attribute_and_predict",
    "cached_scorer",
    "collect_violations",
    "deeplift_package_scores",
    "edit_position_sums",
    "deeplift_scores",
    "get_method",
    "gradients",
    "gradients_and_outputs",
    "guided_backprop",
    "integrated_gradients",
    "ism",
    "last_diagnostics",
    "last_summation_delta_violation",
    "make_references",
    "predict_batched",
    "register_method",
    "summation_delta_violation",
]
