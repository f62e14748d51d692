"""Every attribution method on every architecture of :mod:`dfimx.simulate.architectures`:
correct against an oracle, or one clear error (the README's architecture x method table).

Oracles: summation-to-delta for DeepLIFT and DeepSHAP (computed here from the model's own
outputs), completeness for integrated gradients, central finite differences of the scored
outputs for the gradient (and so for gradient x input), and for guided backpropagation on
models without negative signal paths nothing but its shape and finiteness (it has no
oracle); the deeplift package checks the Sequential ones in test_attribution_package.
"""

from __future__ import annotations

import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.errors import InputError
from dfimx.models import build_scorer
from dfimx.simulate import architectures as arch

L = 48
#: builder keyword arguments and tasks per architecture (small: the table must stay fast)
CASES = {
    "bpnet": ({"crop": 4}, ["profile:weighted", "logcount"]),
    "basset": ({"n_tasks": 3}, None),
    "deepsea": ({"n_tasks": 3}, None),
    "danq": ({"n_tasks": 1}, None),
    "enformer_block": ({"n_tasks": 2}, None),
    "rc_averaged": ({}, None),
    "nested": ({}, None),
    "concatenated_heads": ({}, None),
    "prelu_gated": ({}, None),
}
METHODS = ("gradient", "grad_x_input", "integrated_gradients", "guided_backprop", "deeplift",
           "deepshap")
#: (architecture, method) -> the clear error expected instead of scores
REFUSED = {
    **{("danq", m): "Bidirectional: recurrent" for m in ("guided_backprop", "deeplift",
                                                       "deepshap")},
    **{("enformer_block", m): "LayerNormalization" for m in ("guided_backprop", "deeplift",
                                                             "deepshap")},
}
X = np.eye(4, dtype="float32")[np.random.default_rng(5).integers(0, 4, (3, L))]
_SCORERS: dict[str, object] = {}


def _scorer(name):
    if name not in _SCORERS:
        kwargs, tasks = CASES[name]
        _SCORERS[name] = build_scorer(arch.ARCHITECTURES[name](L, **kwargs), tasks=tasks)
    return _SCORERS[name]


def _expected_delta(name, scorer, ref):
    """``f(x) - f(ref)`` of each task; BPNet's weighted profile holds the input's weights."""
    delta = scorer.predict(X) - scorer.predict(ref)
    if name == "bpnet":  # tasks profile:weighted, logcount
        profile = build_scorer(scorer.model, tasks=["profile"])
        z, zr = profile.predict(X).astype(np.float64), profile.predict(ref).astype(np.float64)
        w = np.exp(z - z.max(1, keepdims=True))
        delta[:, 0] = ((w / w.sum(1, keepdims=True)) * (z - zr)).sum(1)
    return delta


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_architecture_method(name, method):
    scorer = _scorer(name)
    if (name, method) in REFUSED:
        with pytest.raises(InputError, match=REFUSED[name, method]) as exc:
            A.attribute(scorer, X, method=method)
        assert exc.value.option == "method"
        return
    ref = np.full_like(X, 0.25)
    if method in ("deeplift", "integrated_gradients"):
        c = A.attribute(scorer, X, method=method, reference=ref[:, None], steps=64) \
            if method == "integrated_gradients" else \
            A.attribute(scorer, X, method=method, reference=ref[:, None], maxpool="exact")
    elif method == "deepshap":
        c = A.attribute(scorer, X, method=method, n_references=3)
    else:
        c = A.attribute(scorer, X, method=method)
    c = c if c.ndim == 4 else c[..., None]
    assert c.shape == (3, L, 4, scorer.n_tasks) and np.isfinite(c).all()
    if method in ("deeplift", "integrated_gradients"):
        delta = _expected_delta(name, scorer, ref)
        tol = 1e-4 if method == "deeplift" else 0.05
        scale = np.maximum(np.abs(delta), np.abs(c).sum((1, 2)))
        assert (np.abs(c.sum((1, 2)) - delta) <= tol * scale + 1e-6).all()
    if method in ("deeplift", "deepshap"):
        assert A.last_summation_delta_violation() < 1e-4
    if method in ("gradient", "grad_x_input"):
        g = A.attribute(scorer, X, method="gradient")
        g = g if g.ndim == 4 else g[..., None]
        if method == "grad_x_input":
            np.testing.assert_allclose(c, g * X[..., None], rtol=1e-5, atol=1e-6)
        v = np.random.default_rng(0).normal(size=X.shape)
        v = (v / np.sqrt((v**2).sum((1, 2), keepdims=True))).astype(np.float32)
        eps = 3e-3  # a small step in all: (almost) no ReLU or max-pool switch in between
        fd = (scorer.predict(X + eps * v) - scorer.predict(X - eps * v)) / (2 * eps)
        if name == "bpnet":  # the profile weights are held at the input's
            profile = build_scorer(scorer.model, tasks=["profile"])
            z = profile.predict(X).astype(np.float64)
            w = np.exp(z - z.max(1, keepdims=True))
            dz = (profile.predict(X + eps * v) - profile.predict(X - eps * v)) / (2 * eps)
            fd[:, 0] = ((w / w.sum(1, keepdims=True)) * dz).sum(1)
        directional = (g * v[..., None]).sum((1, 2))
        np.testing.assert_allclose(directional, fd, rtol=0.05, atol=0.05 * np.abs(fd).max())


def test_basset_gradient_routed_maxpool_breaks_summation_and_is_recorded():
    scorer = _scorer("basset")
    c = A.deeplift_scores(scorer, X, np.full_like(X, 0.25), maxpool="gradient")
    delta = scorer.predict(X) - scorer.predict(np.full_like(X, 0.25))
    worst = np.abs(c.sum((1, 2)) - delta).max() / np.abs(delta).max()
    assert worst > 1e-3  # the known violation of gradient routing ...
    assert A.last_summation_delta_violation() > 1e-3  # ... is what the run records


def test_vectorised_task_gradients_equal_one_pass_per_task(monkeypatch):
    from dfimx.attribution import backprop

    scorer = build_scorer(arch.basset(L, n_tasks=3))
    per_task = A.deeplift_scores(scorer, X, maxpool="exact")
    monkeypatch.setattr(backprop, "VECTORIZE_FROM_TASKS", 2)
    vectorised = A.deeplift_scores(build_scorer(scorer.model), X, maxpool="exact")
    np.testing.assert_allclose(vectorised, per_task, rtol=1e-5, atol=1e-6)
    single = A.deeplift_scores(build_scorer(scorer.model, tasks=[2]), X, maxpool="exact")
    np.testing.assert_allclose(single[..., 0], per_task[..., 2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("maxpool", ["gradient", "exact"])
def test_run_records_its_largest_summation_delta_violation(tmp_path, maxpool):
    import warnings

    import pandas as pd
    import zarr

    from dfimx.run import run_dfim

    model = arch.basset(L, n_tasks=2)
    ids = [f"s{i}" for i in range(len(X))]
    elements = pd.DataFrame([(s, a, a + 6, f"e{a}", "both") for s in ids for a in (4, 20, 36)],
                            columns=["seq", "start", "end", "name", "role"])
    from dfimx.alphabet import onehot_to_strings
    from dfimx.sequences import from_strings

    seqs = from_strings(onehot_to_strings(X.astype("uint8")), ids=ids)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = run_dfim(model, seqs, output=tmp_path / "run.zarr", elements=elements,
                        null="none", reference="gc", progress=False,
                        method_options=(("maxpool", maxpool),))
    worst = zarr.open_group(str(path), mode="r").attrs["summation_delta_max"]
    flagged = [w for w in caught if "summation-to-delta" in str(w.message)]
    if maxpool == "gradient":
        assert worst > A.RUN_TOLERANCE and flagged
    else:
        assert worst < 1e-4 and not flagged
