"""The scored quantity: logits through nested / strand-averaged / concatenated models,
centred softmax logits, head reductions and the many-task guard."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.errors import InputError
from dfimx.heads import DEFAULT_MAX_TASKS
from dfimx.models import build_scorer
from dfimx.simulate import architectures as arch
from dfimx.testing import random_onehot

L = 40
X = random_onehot(4, L, seed=2).astype(np.float32)


def _logit(p):
    p = np.asarray(p, np.float64)
    return np.log(p) - np.log1p(-p)


def _check_logit(model, expected):
    scorer = build_scorer(model)
    assert {h.kind for h in scorer.heads} == {"logit"}
    np.testing.assert_allclose(scorer.predict(X), expected, rtol=1e-4, atol=1e-4)
    return scorer


def test_nested_model_scores_the_inner_logit():
    model = arch.nested(L)
    scorer = _check_logit(model, _logit(model(X)))
    assert not np.allclose(scorer.predict(X), model(X), atol=1e-2)


def test_concatenated_sigmoid_heads_score_their_logits():
    model = arch.concatenated_heads(L)
    scorer = _check_logit(model, _logit(model(X)))
    assert scorer.task_names == ["heads_0", "heads_1", "heads_2"]


def test_strand_average_scores_the_mean_of_the_strand_logits():
    model = arch.rc_averaged(L)
    strand = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    rc = X[:, ::-1, ::-1].copy()
    expected = 0.5 * (_logit(strand(X)) + _logit(strand(rc)))
    scorer = _check_logit(model, expected)
    assert not np.allclose(scorer.predict(X), model(X), atol=1e-2)  # not the probability


def test_shared_sigmoid_head_feeding_two_outputs():
    inp = keras.Input((L, 4))
    head = keras.layers.Dense(1, activation="sigmoid", name="shared")
    a = head(keras.layers.GlobalAveragePooling1D()(inp))
    b = head(keras.layers.GlobalMaxPooling1D()(inp))
    model = keras.Model(inp, [a, b])
    out = np.concatenate([np.asarray(t) for t in model(X)], axis=1)
    _check_logit(model, _logit(out))
    assert A.attribute(model, X, method="deeplift").shape == (4, L, 4, 2)


@pytest.mark.parametrize("how", ["lambda", "multiply", "average_with_linear"])
def test_probability_behind_other_layers_is_an_error_not_a_silent_score(how):
    inp = keras.Input((L, 4))
    h = keras.layers.GlobalAveragePooling1D()(inp)
    p = keras.layers.Dense(1, activation="sigmoid", name="prob")(h)
    if how == "lambda":
        out = keras.layers.Lambda(lambda v: 100.0 * v, name="percent")(p)
    elif how == "multiply":
        out = keras.layers.Multiply(name="gate")([p, keras.layers.Dense(1)(h)])
    else:
        out = keras.layers.Average(name="mix")([p, keras.layers.Dense(1)(h)])
    with pytest.raises(InputError, match="cannot find the logit") as exc:
        build_scorer(keras.Model(inp, out))
    assert exc.value.option == "output_layer"
    scorer = build_scorer(keras.Model(inp, out), output_layer="output")
    assert {h.kind for h in scorer.heads} == {"output"}


def test_softmax_head_scores_the_centred_logit_and_saturated_classes_stay_informative():
    inp = keras.Input((L, 4))
    z = keras.layers.Dense(3, name="z")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, keras.layers.Activation("softmax", name="p")(z))
    w = np.zeros((L * 4, 3), np.float32)
    w[0, 0] = 40.0  # class 0 saturates (probability ~1) on sequences starting with A
    w[5, 1] = 1.0
    model.get_layer("z").set_weights([w, np.zeros(3, np.float32)])
    scorer = build_scorer(model)
    assert [h.kind for h in scorer.heads] == ["centred_logit"]
    logits = X.reshape(len(X), -1) @ w
    np.testing.assert_allclose(scorer.predict(X), logits - logits.mean(1, keepdims=True),
                               atol=1e-5)
    g = A.attribute(scorer, X, method="gradient")
    # class 0's score moves with base A at position 0 even where its probability is 1
    np.testing.assert_allclose(g[:, 0, 0, 0], 40.0 * 2 / 3, rtol=1e-5)


def test_bpnet_needs_tasks_and_weighted_profile_works_with_deeplift():
    model = arch.bpnet(L, crop=4)
    with pytest.raises(InputError, match=r"profile \(32\), logcount \(1\)") as exc:
        build_scorer(model, max_tasks=16)
    assert exc.value.option == "task" and "--task profile:weighted" in str(exc.value)
    scorer = build_scorer(model, tasks=["profile:weighted", "logcount"])
    assert scorer.task_names == ["profile:weighted", "logcount"]
    z = build_scorer(model, tasks=["profile"]).predict(X).astype(np.float64)
    w = np.exp(z - z.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(scorer.predict(X)[:, 0], (w * z).sum(1), rtol=1e-4, atol=1e-5)
    R = np.full_like(X, 0.25)
    c = A.deeplift_scores(scorer, X, R)
    zr = build_scorer(model, tasks=["profile"]).predict(R[:1]).astype(np.float64)
    # the weights are the input's, held constant: contributions sum to w(x) . (z(x) - z(r))
    np.testing.assert_allclose(c[..., 0].sum((1, 2)), (w * (z - zr)).sum(1), rtol=1e-3,
                               atol=1e-4)
    assert A.last_summation_delta_violation() < 1e-4


def test_whole_heads_and_reductions():
    model = arch.bpnet(L, crop=4)
    full = build_scorer(model, tasks=["profile"]).predict(X)
    assert full.shape == (4, 32)
    both = build_scorer(model, tasks=["profile:sum", "profile:mean", "profile_3"]).predict(X)
    np.testing.assert_allclose(both, np.stack([full.sum(1), full.mean(1), full[:, 3]], 1),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="unknown reduction 'max'"):
        build_scorer(model, tasks=["profile:max"])
    with pytest.raises(InputError, match="no head 'counts'"):
        build_scorer(model, tasks=["counts:sum"])


def test_default_task_limit_lets_basset_through_and_stops_deepsea():
    assert build_scorer(arch.basset(60, n_tasks=164)).n_tasks == 164 <= DEFAULT_MAX_TASKS
    with pytest.raises(InputError, match=r"919 outputs \(dense_\d+ \(919\)\)"):
        build_scorer(arch.deepsea(100, n_tasks=919))


def test_command_line_bpnet_guidance_then_weighted_profile(tmp_path, capsys):
    import zarr

    from dfimx.alphabet import onehot_to_strings
    from dfimx.cli import main
    from dfimx.io.fasta import write_fasta

    length = 240  # 220 profile positions + the count: more than the default 200 tasks
    arch.bpnet(length, crop=10).save(tmp_path / "bpnet.keras")
    fasta = write_fasta(tmp_path / "s.fa", {"s1": onehot_to_strings(
        random_onehot(1, length, seed=4))[0]})
    base = ["run", "--model", str(tmp_path / "bpnet.keras"), "--fasta", str(fasta),
            "--scan", "100:103", "--null", "none", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "all.zarr")]) != 0
    err = capsys.readouterr().err
    assert "221 outputs (profile (220), logcount (1))" in err
    assert "--task profile:weighted --task logcount" in err
    assert main([*base, "-o", str(tmp_path / "w.zarr"), "--task", "profile:weighted",
                 "--task", "logcount", "--method", "deeplift"]) == 0
    store = zarr.open_group(str(tmp_path / "w.zarr"), mode="r")
    assert list(store["task"][:]) == ["profile:weighted", "logcount"]
    assert store.attrs["summation_delta_max"] < 1e-4
