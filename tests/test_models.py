"""Model loading (safe mode, .h5, SavedModel), output choice and input checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import random_onehot, small_cnn

from dfimx.cli import main
from dfimx.errors import InputError
from dfimx.models import ModelSpec, build_scorer, load_keras_model

X = random_onehot(5, 40, seed=1).astype(np.float32)


def test_logit_is_the_pre_sigmoid_output():
    model = small_cnn()
    logit = build_scorer(model).network(X).numpy()
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), model(X).numpy(), rtol=1e-5)
    out = build_scorer(model, output_layer="output").network(X).numpy()
    np.testing.assert_allclose(out, model(X).numpy(), rtol=1e-6)


def test_tasks_by_name_and_index():
    model = small_cnn(n_out=3)
    scorer = build_scorer(model)
    assert scorer.task_names == ["head_0", "head_1", "head_2"]
    full = scorer.network(X).numpy()
    picked = build_scorer(model, tasks=["head_2", 0]).network(X).numpy()
    np.testing.assert_allclose(picked, full[:, [2, 0]], rtol=1e-6)
    with pytest.raises(InputError, match="task 'nope' not found"):
        build_scorer(model, tasks=["nope"])
    with pytest.raises(InputError, match="task index 5 out of range"):
        build_scorer(model, tasks=[5])


def test_h5_and_savedmodel_load(tmp_path):
    model = small_cnn()
    model.save(tmp_path / "m.h5")
    h5 = ModelSpec.from_path(tmp_path / "m.h5").load()
    np.testing.assert_allclose(h5.network(X).numpy(), build_scorer(model).network(X).numpy(),
                               rtol=1e-5)
    model.export(tmp_path / "saved", verbose=False)
    sm = ModelSpec.from_path(tmp_path / "saved", output_layer="output").load()
    np.testing.assert_allclose(sm.network(X).numpy(), model(X).numpy(), rtol=1e-5)
    with pytest.raises(InputError, match="SavedModel is an opaque graph"):
        ModelSpec.from_path(tmp_path / "saved").load()


def test_safe_mode_refuses_lambda_layers(tmp_path):
    inp = keras.Input((40, 4))
    h = keras.layers.Lambda(lambda t: t * 2.0)(inp)
    out = keras.layers.Dense(1)(keras.layers.Flatten()(h))
    keras.Model(inp, out).save(tmp_path / "lambda.keras")
    with pytest.raises(InputError, match="safe mode refuses"):
        load_keras_model(tmp_path / "lambda.keras")
    assert load_keras_model(tmp_path / "lambda.keras", safe_mode=False) is not None


def test_bad_model_files(tmp_path):
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"junk\.keras: cannot load model"):
        load_keras_model(tmp_path / "junk.keras")
    with pytest.raises(InputError, match="model file not found"):
        ModelSpec.from_path(tmp_path / "missing.keras")


def test_input_shape_mismatch_is_one_clear_error(oracle_files, tmp_path, capsys):
    short = tmp_path / "short.keras"
    small_cnn(length=30).save(short)
    out = tmp_path / "r.zarr"
    rc = main(["run", "--model", str(short), "--fasta", oracle_files["fasta"],
               "--elements", oracle_files["elements"], "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1
    assert "sequences have length 40 but the model expects length 30" in err[0]
    assert not out.exists()
