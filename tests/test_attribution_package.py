"""The deeplift package backend (0.6.13) as the oracle of native Rescale and grad x input.

All package runs share ONE worker process (a module-scoped fixture).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.attribution.package import PackageJob, keras3_to_package_configs, run_package_jobs
from dfimx.errors import InputError
from dfimx.models import build_scorer
from dfimx.testing import randomize_weights

pytest.importorskip("deeplift")


def _randomize(model, seed):
    return randomize_weights(model, seed, scale=0.4, nested=False)


def _models():
    K = keras.layers
    return {
        "conv-maxpool-dense": (50, [K.Conv1D(8, 7, activation="relu"), K.MaxPooling1D(4),
                                    K.Flatten(), K.Dense(6, activation="relu"),
                                    K.Dense(2, activation="sigmoid")]),
        "conv-same-bn-avgpool-tanh": (40, [K.Conv1D(5, 5, padding="same"),
                                           K.BatchNormalization(), K.Activation("relu"),
                                           K.AveragePooling1D(2, strides=2),
                                           K.Conv1D(4, 3, activation="tanh"), K.Flatten(),
                                           K.Dropout(0.3), K.Dense(3)]),
        "two-conv-globalmax-softmax": (60, [K.Conv1D(6, 9, activation="relu"),
                                            K.Conv1D(4, 3, strides=2, activation="relu"),
                                            K.GlobalMaxPooling1D(),
                                            K.Dense(3, activation="softmax")]),
        "conv-sigmoid-globalavg": (30, [K.Conv1D(3, 4, activation="sigmoid"),
                                        K.GlobalAveragePooling1D(), K.Dense(1)]),
    }


@pytest.fixture(scope="module")
def package_results():
    cases = {}
    jobs = []
    for i, (name, (length, layers)) in enumerate(_models().items()):
        model = _randomize(keras.Sequential([keras.Input((length, 4)), *layers]), i)
        X = np.eye(4, dtype="float32")[np.random.default_rng(i).integers(0, 4, (6, length))]
        n_out = int(model.outputs[0].shape[-1])
        tasks = tuple(range(n_out))
        cases[name] = (model, X, len(jobs))
        jobs.append(PackageJob(model, X, None, "rescale", tasks, batch_size=4))
        jobs.append(PackageJob(model, X, None, "gradient", tasks, batch_size=4))
    return cases, run_package_jobs(jobs)


@pytest.mark.parametrize("name", sorted(_models()))
def test_native_matches_package(name, package_results):
    cases, results = package_results
    model, X, j = cases[name]
    scorer = build_scorer(model)  # the logit of a sigmoid head, as the package's target
    native = A.deeplift_scores(scorer, X, maxpool="gradient")  # the package's max-pool rule
    pkg = results[j]
    if scorer.heads[0].kind == "centred_logit":
        # dfimx scores a softmax head's logits centred on their mean (the package: the raw
        # logits); centring is linear, so it carries over to the contributions exactly
        results = list(results)
        for i in (j, j + 1):
            results[i] = results[i] - results[i].mean(axis=-1, keepdims=True)
        pkg = results[j]
    assert pkg.shape == native.shape
    np.testing.assert_allclose(native, pkg, atol=1e-4 * np.abs(pkg).max())
    gxi = A.attribute(scorer, X, method="grad_x_input")
    gxi = gxi if gxi.ndim == 4 else gxi[..., None]
    pkg_g = results[j + 1]
    np.testing.assert_allclose(gxi, pkg_g, atol=1e-4 * np.abs(pkg_g).max())


def test_eager_execution_survives_package(package_results):
    import tensorflow as tf

    assert tf.executing_eagerly()


def test_package_backend_refuses_unconvertible_models():
    inp = keras.Input((10, 4))
    functional = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp)))
    with pytest.raises(InputError, match="Sequential"):
        keras3_to_package_configs(functional)
    dilated = keras.Sequential([keras.Input((10, 4)), keras.layers.Conv1D(2, 3, dilation_rate=2),
                                keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(InputError, match="dilation"):
        keras3_to_package_configs(dilated)
    gelu = keras.Sequential([keras.Input((10, 4)), keras.layers.Flatten(),
                             keras.layers.Dense(2, activation="gelu"), keras.layers.Dense(1)])
    with pytest.raises(InputError, match="gelu"):
        A.attribute(gelu, np.zeros((1, 10, 4)), method="deeplift-package:rescale")
