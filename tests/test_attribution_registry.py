"""The method registry, attribute() and attribute_and_predict()."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.errors import InputError
from dfimx.models import build_scorer, predict_batched
from dfimx.testing import random_onehot, randomize_weights

L = 24


def _model():
    return randomize_weights(keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(4, 5, activation="relu"),
        keras.layers.MaxPooling1D(3), keras.layers.Flatten(), keras.layers.Dense(2)]), 0)


def test_method_registry():
    for name in ("gradient", "grad_x_input", "integrated_gradients", "deeplift", "deepshap",
                 "guided_backprop", "ism", "deeplift-package:rescale",
                 "deeplift-package:revealcancel", "deeplift-package:genomics_default"):
        assert name in A.METHODS
    with pytest.raises(InputError, match="unknown attribution method 'magic'") as exc:
        A.attribute(_model(), random_onehot(1, L).astype(np.float32), method="magic")
    assert exc.value.option == "method"


@pytest.mark.parametrize("method", ["gradient", "grad_x_input", "deeplift", "deepshap",
                                    "integrated_gradients", "ism"])
def test_attribute_and_predict_outputs_are_the_model_outputs(method):
    scorer = build_scorer(_model())
    X = random_onehot(3, L).astype(np.float32)
    refs = A.make_references(X, "dinuc", n_references=2, seq_ids=list("abc"))
    refs = refs if A.METHODS[method].uses_reference else None
    imp, y = A.attribute_and_predict(method, scorer, X, references=refs, batch_size=4, steps=4)
    np.testing.assert_allclose(y, predict_batched(scorer, X), rtol=1e-5, atol=1e-6)
    alone = A.METHODS[method].kernel(scorer, X, references=refs, batch_size=4, steps=4)
    np.testing.assert_allclose(imp, alone, rtol=1e-5, atol=1e-6)
    assert (A.METHODS[method].with_outputs is None) == (method in ("integrated_gradients", "ism"))


def test_a_registered_plug_in_is_served_by_attribute():
    seen = []

    @A.register_method("test-ones", uses_reference=True, doc="ones", default_reference="gc")
    def ones(scorer, X, references=None, batch_size=256, **_):
        seen.append(references)
        return np.ones(X.shape + (scorer.n_tasks,), np.float32)

    try:
        assert A.METHODS["test-ones"].default_reference == "gc"
        X = random_onehot(2, L).astype(np.float32)
        assert A.attribute(_model(), X, method="test-ones").shape == (2, L, 4, 2)
        np.testing.assert_allclose(seen[0], A.make_references(X, "gc"))
        imp, y = A.attribute_and_predict("test-ones", build_scorer(_model()), X)
        assert imp.shape == (2, L, 4, 2) and y.shape == (2, 2)
    finally:
        del A.METHODS["test-ones"]


def test_importing_attribution_does_not_import_tensorflow():
    code = "import dfimx.attribution, sys; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_eager_mode_untouched():
    import tensorflow as tf

    assert tf.executing_eagerly()
    assert os.environ.get("DFIMX_DEBUG") is None


def test_attribute_reuses_one_scorer_per_model_and_keeps_no_model_alive():
    import gc
    import weakref

    import keras

    from dfimx.attribution import attribute, cached_scorer
    from dfimx.testing import random_onehot, small_cnn

    X = random_onehot(2, 40).astype("float32")
    model = small_cnn()
    first = attribute(model, X, method="deeplift")
    scorer = cached_scorer(model)
    compiled = dict(scorer._functions)
    np.testing.assert_array_equal(attribute(model, X, method="deeplift"), first)
    assert cached_scorer(model) is scorer and scorer._functions == compiled  # no recompiling
    ref = weakref.ref(model)
    del model, scorer
    keras.backend.clear_session()
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("method", ["gradient", "grad_x_input", "deeplift"])
def test_position_sums_are_the_attributions_summed_over_bases(method):
    """The sums taken inside the compiled function (gradient methods) or from the full
    attributions (the others) equal the full attributions summed base by base, to the
    bit, on one-hot inputs and on fractional (gc-replaced) ones; the outputs are the
    model's."""
    from dfimx.attribution.registry import position_sums_and_predict

    scorer = build_scorer(_model())
    X = random_onehot(5, L, seed=3).astype(np.float32)
    X[1, 4:9] = [0.3, 0.2, 0.2, 0.3]  # a gc-replaced stretch: several bases per position
    assert (A.METHODS[method].position_sums is None) == (method == "deeplift")
    signed, absolute, y = position_sums_and_predict(method, scorer, X, batch_size=4)
    imp, y_full = A.attribute_and_predict(method, scorer, X, batch_size=4)
    want = imp[:, :, 0] + imp[:, :, 1] + imp[:, :, 2] + imp[:, :, 3]
    want_abs = (np.abs(imp[:, :, 0]) + np.abs(imp[:, :, 1]) + np.abs(imp[:, :, 2])
                + np.abs(imp[:, :, 3]))
    np.testing.assert_array_equal(signed, want)
    np.testing.assert_array_equal(absolute, want_abs)
    assert signed.shape == (5, L, 2) and (absolute >= np.abs(signed)).all()
    np.testing.assert_array_equal(y, y_full)
    np.testing.assert_allclose(y, predict_batched(scorer, X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["grad_x_input", "deeplift", "deepshap"])
def test_attributions_do_not_depend_on_the_batch_shapes_that_came_first(method):
    """A scorer compiled by a large batch first gives the same bits on a small one as a
    scorer that saw the small one first (chunking, threads and model streams change which
    batch shape comes first; each row shape has one graph)."""
    from dfimx.simulate.classifier import local_field_model

    model = local_field_model(160, seed=1)
    X = random_onehot(30, 160, seed=3).astype(np.float32)
    refs = (A.make_references(X, "dinuc", n_references=3, seq_ids=[f"s{i}" for i in range(30)])
            if method == "deepshap" else "zeros" if method == "deeplift" else None)
    small_first, big_first = build_scorer(model), build_scorer(model)
    want = A.attribute(small_first, X, method=method, reference=refs, batch_size=256)
    big = np.concatenate([X] * 10)
    A.attribute(big_first, big, method=method, batch_size=256,
                reference=np.concatenate([refs] * 10) if isinstance(refs, np.ndarray) else refs)
    got = A.attribute(big_first, X, method=method, reference=refs, batch_size=256)
    np.testing.assert_array_equal(got, want)
    for s in (small_first, big_first):  # one graph per row shape, whatever came first
        assert all(len(fn.graphs) == 1 for fn in s._functions.values()
                   if hasattr(fn, "graphs"))
        assert any(hasattr(fn, "graphs") for fn in s._functions.values())
