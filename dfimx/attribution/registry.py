"""The registry of attribution methods and the :func:`attribute` entry point.

A method is a kernel ``kernel(scorer, X, references, batch_size, **opts)`` on a
:class:`dfimx.models.Scorer` and one-hot inputs ``X`` ``(N, L, 4)`` that returns
``(N, L, 4, T)`` float32.  Kernels register themselves with :func:`register_method`
(the modules :mod:`~dfimx.attribution.backprop`, :mod:`~dfimx.attribution.deeplift`,
:mod:`~dfimx.attribution.mutagenesis` and the plug-in :mod:`~dfimx.attribution.package`);
:func:`attribute` and :func:`attribute_and_predict` select them by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfimx.attribution.references import as_references, make_references
from dfimx.errors import InputError
from dfimx.models import ModelSpec, Scorer, build_scorer, predict_batched

Kernel = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Method:
    """An attribution method: ``kernel(scorer, X, references, batch_size, **opts)``.

    ``references`` has shape ``(N, K, L, 4)`` (K references per input) or is None for
    methods that take none; the kernel returns ``(N, L, 4, T)`` float32.
    ``default_reference`` is the reference kind :func:`attribute` uses when none is named.
    ``with_outputs``, when given, is a kernel with the same arguments that returns the
    attributions and the scored outputs ``(N, T)`` of its own forward pass.
    ``position_sums``, when given, returns instead the attributions summed over bases,
    signed and in absolute value (both ``(N, L, T)``), and the outputs, reduced where they
    are computed so that only ``(N, L, T)`` arrays leave the model (see
    :func:`position_sums_and_predict`).  ``concurrent`` kernels may run on pieces of whole
    batches in several threads at once (:mod:`dfimx.attribution.streams`).
    ``edit_sums``, when given, returns the same sums for edited sequences from their
    originals, ``edit_sums(scorer, X, edits, mutants, batch_size)`` with ``edits[b] =
    (i, start, end)`` (``mutants[b]`` equals ``X[i]`` outside ``[start, end)``), so that
    the forward pass of the unchanged part is not redone
    (:func:`dfimx.attribution.edits.edit_position_sums`).
    """

    name: str
    kernel: Kernel
    uses_reference: bool
    doc: str
    default_reference: str | None = None
    with_outputs: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    position_sums: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    concurrent: bool = True
    edit_sums: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None


METHODS: dict[str, Method] = {}


def register_method(
    name: str,
    *,
    uses_reference: bool,
    doc: str,
    default_reference: str | None = None,
    with_outputs: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None,
    position_sums: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    concurrent: bool = True,
    edit_sums: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> Callable[[Kernel], Kernel]:
    """Decorator registering an attribution kernel under ``name``.

    Examples
    --------
    >>> @register_method("ones", uses_reference=False, doc="Every base scores 1.")
    ... def ones(scorer, X, references=None, batch_size=256, **_):
    ...     return np.ones(np.shape(X) + (scorer.n_tasks,), np.float32)
    >>> METHODS["ones"].uses_reference, METHODS["ones"].default_reference
    (False, None)
    >>> del METHODS["ones"]
    """

    def wrap(fn: Kernel) -> Kernel:
        ref = (default_reference or "zeros") if uses_reference else None
        METHODS[name] = Method(name, fn, uses_reference, doc, ref, with_outputs,
                               position_sums, concurrent, edit_sums)
        return fn

    return wrap


def get_method(name: str) -> Method:
    """The registered :class:`Method` called ``name``.

    Raises
    ------
    InputError
        When no method of that name is registered.
    """
    if name not in METHODS:
        raise InputError(f"unknown attribution method {name!r}; choose one of {sorted(METHODS)}",
                         option="method")
    return METHODS[name]


def pick_options(opts: dict[str, Any], *names: str) -> dict[str, Any]:
    """The entries of ``opts`` named in ``names`` (the options one kernel takes).

    Examples
    --------
    >>> pick_options({"steps": 8, "gc": 0.4}, "steps", "debug")
    {'steps': 8}
    """
    return {k: opts[k] for k in names if k in opts}


def attribute_and_predict(
    method: str,
    scorer: Scorer,
    X: np.ndarray,
    *,
    references: np.ndarray | None = None,
    batch_size: int = 256,
    **opts: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Attributions ``(N, L, 4, T)`` and scored outputs ``(N, T)`` of ``X``.

    Methods with a ``with_outputs`` kernel (gradient, gradient x input, DeepLIFT and
    DeepSHAP) take the outputs from the forward pass of the attribution itself; other
    methods run one more forward pass.

    Examples
    --------
    >>> import numpy as np, keras
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> s = build_scorer(keras.Model(inp, out)); X = np.ones((2, 5, 4), "float32")
    >>> imp, y = attribute_and_predict("grad_x_input", s, X)
    >>> bool(np.allclose(y, predict_batched(s, X), atol=1e-6))
    True
    """
    X = np.asarray(X, np.float32)
    spec = get_method(method)
    if spec.with_outputs is not None:
        return spec.with_outputs(scorer, X, references=references, batch_size=batch_size,
                                 **opts)
    imp = spec.kernel(scorer, X, references=references, batch_size=batch_size, **opts)
    return imp, predict_batched(scorer, X, batch_size=batch_size)


def base_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a (N, L, 4, T)`` summed over bases, signed and in absolute value, ``(N, L, T)`` each.

    The bases are added one after the other (``((a0 + a1) + a2) + a3``), the order the
    compiled :data:`Method.position_sums` kernels use, so both give the same float32 bits.

    Examples
    --------
    >>> a = np.arange(16.0).reshape(1, 2, 4, 2) - 8
    >>> s, m = base_sums(a)
    >>> bool(np.array_equal(s, a.sum(axis=2))), bool(np.array_equal(m, np.abs(a).sum(axis=2)))
    (True, True)
    """
    signed, absolute = a[:, :, 0].copy(), np.abs(a[:, :, 0])
    for b in range(1, a.shape[2]):
        signed += a[:, :, b]
        absolute += np.abs(a[:, :, b])
    return signed, absolute


def position_sums_and_predict(
    method: str,
    scorer: Scorer,
    X: np.ndarray,
    *,
    references: np.ndarray | None = None,
    batch_size: int = 256,
    **opts: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributions summed over bases, signed and absolute (``(N, L, T)`` each), and the
    scored outputs ``(N, T)``.

    What a ``sum``-reduced DFIM score and its profile need from each input.  Methods with
    a ``position_sums`` kernel (gradient, gradient x input) reduce inside the compiled
    function, so the ``(N, L, 4, T)`` attributions never reach numpy; for the others the
    sums come from :func:`attribute_and_predict` through :func:`base_sums`.  Either way
    the values are the same bits.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> s = build_scorer(keras.Model(inp, out))
    >>> X = np.eye(4, dtype="float32")[[0, 1, 2, 3, 0]][None]
    >>> signed, absolute, y = position_sums_and_predict("grad_x_input", s, X)
    >>> imp, _ = attribute_and_predict("grad_x_input", s, X)
    >>> bool(np.array_equal(signed, imp.sum(axis=2))), signed.shape, y.shape
    (True, (1, 5, 1), (1, 1))
    """
    X = np.asarray(X, np.float32)
    spec = get_method(method)
    if spec.position_sums is not None:
        return spec.position_sums(scorer, X, references=references, batch_size=batch_size,
                                  **opts)
    imp, pred = attribute_and_predict(method, scorer, X, references=references,
                                      batch_size=batch_size, **opts)
    return (*base_sums(imp), pred)


_SCORERS_ATTR = "_dfimx_scorers"


def cached_scorer(model: Any, *, tasks: list[int | str] | None = None,
                  output_layer: str = "logit") -> Scorer:
    """The :class:`Scorer` of an in-memory Keras model, built once per model and choice.

    The scorers (and their compiled functions) are kept on the model object itself, so
    they live exactly as long as the model: nothing keeps a model alive, and a later
    model never meets a stale entry (no cache keyed by ``id()``).

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((5, 4)); m = keras.Model(inp, keras.layers.Dense(1)(inp))
    >>> cached_scorer(m) is cached_scorer(m), cached_scorer(m) is cached_scorer(m, tasks=[0])
    (True, False)
    """
    cache = getattr(model, _SCORERS_ATTR, None)
    if not isinstance(cache, dict):
        cache = {}
        object.__setattr__(model, _SCORERS_ATTR, cache)  # bypasses Keras's attribute tracking
    key = (tuple(tasks or ()), output_layer)
    if key not in cache:
        cache[key] = build_scorer(model, tasks=tasks, output_layer=output_layer)
    return cache[key]


def attribute(
    model: Any,
    X: Any,
    *,
    method: str = "grad_x_input",
    reference: str | np.ndarray | None = None,
    task: int | str | list[int | str] | None = None,
    batch_size: int = 256,
    output_layer: str = "logit",
    seq_ids: list[str] | None = None,
    seed: int = 0,
    **options: Any,
) -> np.ndarray:
    """Attribution scores of ``X`` for the scored tasks of ``model``.

    Parameters
    ----------
    model
        A Keras model, a path to one, or a :class:`dfimx.models.Scorer`.  The scorer of a
        Keras model is built (and its functions compiled) once per model object
        (:func:`cached_scorer`).
    X
        One-hot sequences ``(N, L, 4)``, or a dataset with ``seq_onehot``.
    method
        One of :data:`METHODS` (e.g. ``"gradient"``, ``"grad_x_input"``, ``"deeplift"``,
        ``"deepshap"``, ``"integrated_gradients"``, ``"guided_backprop"``, ``"ism"``).
    reference
        Reference kind (``"zeros"``, ``"gc"``, ``"dinuc"``) or an array ``(N, K, L, 4)``;
        the method's default (``dinuc`` for deepshap, else ``zeros``) when None.
    task
        Task index or name, head name or ``HEAD:REDUCTION`` (``sum``, ``mean``,
        ``weighted``), or a list of them; all tasks when None (refused above
        :data:`dfimx.heads.DEFAULT_MAX_TASKS` outputs).
    **options
        ``gc``, ``n_references`` (for the reference) and method options: ``steps``
        (integrated gradients), ``maxpool`` and ``debug`` (deeplift, deepshap).

    Returns
    -------
    numpy.ndarray
        ``(N, L, 4)`` for one task, ``(N, L, 4, T)`` when several tasks are scored.

    Examples
    --------
    >>> import numpy as np, keras
    >>> inp = keras.Input((8, 4)); h = keras.layers.Conv1D(2, 3, activation="relu")(inp)
    >>> m = keras.Model(inp, keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(h)))
    >>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (2, 8))]
    >>> attribute(m, X, method="deepshap", seq_ids=["a", "b"], n_references=4).shape
    (2, 8, 4)
    """
    tasks = None if task is None else (list(task) if isinstance(task, (list, tuple)) else [task])
    if isinstance(model, Scorer):
        scorer = model
    elif isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        scorer = ModelSpec.from_path(model, output_layer=output_layer, tasks=tasks).load()
    else:
        scorer = cached_scorer(model, tasks=tasks, output_layer=output_layer)
    if hasattr(X, "data_vars"):
        if seq_ids is None and "seq_id" in X:
            seq_ids = [str(s) for s in X["seq_id"].values]
        X = X["seq_onehot"].values
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise InputError(f"X must have shape (N, L, 4), got {X.shape}")
    scorer.check_input(X.shape[1], X.shape[2])
    spec = get_method(method)
    refs = None
    ref_opts = {k: options.pop(k) for k in ("gc", "n_references") if k in options}
    if spec.uses_reference:
        if reference is None:
            reference = spec.default_reference or "zeros"
        if isinstance(reference, str):
            refs = make_references(X, reference, seq_ids=seq_ids, seed=seed, **ref_opts)
        else:
            refs = as_references(X, reference)
    out = spec.kernel(scorer, X, references=refs, batch_size=batch_size, **options)
    return out[..., 0] if scorer.n_tasks == 1 else out
