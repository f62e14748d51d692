"""Model loading (safe mode, .h5, SavedModel), output choice and input checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dfimx.cli import main
from dfimx.errors import InputError
from dfimx.models import (
    MIN_MODEL_BATCH,
    ModelSpec,
    activation_name,
    batches,
    build_scorer,
    load_keras_model,
    model_spec_for,
    pad_rows,
    predict_batched,
)
from dfimx.testing import random_onehot, small_cnn

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
    sm = ModelSpec.from_path(tmp_path / "saved", output_layer="output", safe_mode=False).load()
    np.testing.assert_allclose(sm.network(X).numpy(), model(X).numpy(), rtol=1e-5)
    with pytest.raises(InputError, match="SavedModel is an opaque graph") as exc:
        ModelSpec.from_path(tmp_path / "saved", safe_mode=False).load()
    assert exc.value.option == "output_layer"
    # finding 5: safe mode (the default) refuses every SavedModel, naming safe_mode
    with pytest.raises(InputError, match="SavedModel can run any TensorFlow op") as exc:
        ModelSpec.from_path(tmp_path / "saved", output_layer="output").load()
    assert exc.value.option == "safe_mode" and "safe_mode=False" in str(exc.value)


def _file_writing_savedmodel(path, marker):
    """A SavedModel whose serving graph writes ``marker`` whenever it is called."""
    import tensorflow as tf

    class Writer(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.ones((4, 1)))

        @tf.function(input_signature=[tf.TensorSpec((None, 40, 4), tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "written by the model's graph")
            return {"out": tf.reduce_sum(tf.matmul(x, self.w), axis=1)}

    module = Writer()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)


def test_savedmodel_ops_run_only_with_unsafe_model(oracle_files, tmp_path, capsys):
    marker = tmp_path / "written_by_model.txt"
    saved = _file_writing_savedmodel(tmp_path / "writer_sm", marker)
    args = ["run", "--model", saved, "--fasta", oracle_files["fasta"], "--elements",
            oracle_files["elements"], "--null", "none", "--no-progress", "--output-layer",
            "output", "--method", "grad_x_input"]
    out = tmp_path / "sm.zarr"
    assert main(args + ["-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a TensorFlow SavedModel can run any TensorFlow op" in err[0]
    assert "--unsafe-model" in err[0] and "safe_mode" not in err[0]
    assert not marker.exists() and not out.exists()
    # the command line grants it: the graph runs (and writes, as such a graph can)
    assert main(args + ["-o", str(out), "--unsafe-model"]) == 0
    assert marker.exists()


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


def test_activation_name_knows_only_keras_builtins():
    assert activation_name(keras.activations.sigmoid) == "sigmoid"
    assert activation_name(keras.layers.Conv1D(2, 3).activation) == "linear"
    assert activation_name(None) == "linear"

    def relu(v):  # a user function that merely shares a built-in's name
        return v

    assert activation_name(relu) is None


def test_model_spec_for_paths_models_and_specs(tmp_path):
    model = small_cnn()
    spec = model_spec_for(model, tasks=["head"], output_layer="output")
    assert spec.tasks == ("head",) and spec.output_layer == "output"
    np.testing.assert_allclose(spec.load().network(X).numpy(), model(X).numpy(), rtol=1e-5)
    assert model_spec_for(spec) is spec
    model.save(tmp_path / "m.keras")
    assert model_spec_for(tmp_path / "m.keras").path == str((tmp_path / "m.keras").resolve())


def test_predict_batched_pads_small_batches_and_compiles_once():
    scorer = build_scorer(small_cnn(n_out=2))
    full = scorer.network(X).numpy()
    for batch_size in (1, 2, 256):
        np.testing.assert_allclose(predict_batched(scorer, X, batch_size=batch_size), full,
                                   rtol=1e-5, atol=1e-6)
    assert list(scorer._functions) == [("predict",)]  # noqa: SLF001 - one compiled function
    assert pad_rows(np.ones((3, 2)), 256).shape == (MIN_MODEL_BATCH, 2)
    assert [s.stop - s.start for s in batches(5, 2)] == [2, 2, 1]


def test_length_mismatch_names_the_setting():
    scorer = build_scorer(small_cnn(length=30))
    with pytest.raises(InputError, match="sequences have length 40 but the model expects "
                                         "length 30") as exc:
        scorer.check_input(40)
    assert exc.value.option == "length"


CUSTOM_LAYER = '''
import keras


class Doubling(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x
'''


def test_custom_objects_module_loads_custom_layers(tmp_path):
    module = tmp_path / "my_layers.py"
    module.write_text(CUSTOM_LAYER)
    from dfimx.models import load_custom_objects

    Doubling = load_custom_objects(module)["Doubling"]
    inp = keras.Input((40, 4))
    out = keras.layers.Dense(1)(keras.layers.Flatten()(Doubling()(inp)))
    model = keras.Model(inp, out)
    model.save(tmp_path / "custom.keras")
    with pytest.raises(InputError, match="Doubling"):
        ModelSpec.from_path(tmp_path / "custom.keras").load()
    scorer = ModelSpec.from_path(tmp_path / "custom.keras", custom_objects=module).load()
    np.testing.assert_allclose(scorer.predict(X), model(X).numpy(), rtol=1e-5)
    with pytest.raises(InputError, match="custom-objects module not found") as exc:
        load_custom_objects(tmp_path / "missing.py")
    assert exc.value.option == "custom_objects"
