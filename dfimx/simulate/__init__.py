"""Simulated data with known interactions, for demos, tests and benchmarks.

* :mod:`dfimx.simulate.sequences`: sequences with planted interacting motifs A, B and
  decoys (:func:`simulate_sequences`, :class:`Simulation`).
* :mod:`dfimx.simulate.genome`: a genome and a VCF with motif-breaking variants
  (:func:`simulate_variant_genome`).
* :mod:`dfimx.simulate.models`: tiny Keras models, their training and evaluation.

Examples
--------
>>> from dfimx import simulate
>>> sim = simulate.simulate_sequences(n=4, length=100)
>>> sim.onehot.shape, sim.true_pair_names
((4, 100, 4), ('GATA_like', 'TAL1_like'))
"""

from __future__ import annotations

from dfimx.simulate.genome import (
    GENOME_REVCOMP,
    TRUTH_COLUMNS,
    SimulatedVariants,
    simulate_variant_genome,
)
from dfimx.simulate.models import (
    ADDITIVE_PSEUDOCOUNT,
    DEMO_SETTINGS,
    additive_model,
    auroc,
    build_cnn,
    cached_demo_model,
    evaluate,
    random_cnn,
    save_model,
    simulate,
    train_model,
)
from dfimx.simulate.sequences import (
    CLASSES,
    DEFAULT_CLASS_FRACTIONS,
    ELEMENT_COLUMNS,
    SEQUENCE_REVCOMP,
    Simulation,
    choose_motifs,
    place_elements,
    simulate_sequences,
)

__all__ = [
    "ADDITIVE_PSEUDOCOUNT",
    "CLASSES",
    "DEFAULT_CLASS_FRACTIONS",
    "DEMO_SETTINGS",
    "ELEMENT_COLUMNS",
    "GENOME_REVCOMP",
    "SEQUENCE_REVCOMP",
    "TRUTH_COLUMNS",
    "SimulatedVariants",
    "Simulation",
    "additive_model",
    "auroc",
    "build_cnn",
    "cached_demo_model",
    "choose_motifs",
    "evaluate",
    "place_elements",
    "random_cnn",
    "save_model",
    "simulate",
    "simulate_sequences",
    "simulate_variant_genome",
    "train_model",
]
