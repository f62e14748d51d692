"""Gradient methods: gradient, gradient x input, integrated gradients, guided backprop.

Each method compiles one ``tf.function`` per scorer (kept by
:meth:`dfimx.models.Scorer.compiled`) that returns the gradient of every scored task at
once, ``(N, L, 4, T)``; batches are padded to :data:`dfimx.models.MIN_MODEL_BATCH` rows
so that results do not depend on chunking.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from dfimx.attribution.diagnostics import debug_enabled, record, summation_delta_violation
from dfimx.attribution.references import as_references
from dfimx.attribution.registry import pick_options, register_method
from dfimx.attribution.rules import Rules, run_with_rules, validate
from dfimx.errors import InputError
from dfimx.models import Scorer, batch_function, batches, pad_rows, predict_batched

#: From this many tasks on, the backward passes of all tasks are vectorised together.
#: Measured on a Basset-like model on CPU (``bench/bench_tasks.py``): one traced backward
#: pass per task runs ~5x faster than the vectorised one (``batch_jacobian``) and ~3x faster
#: than tiling the batch over the task cotangents, but its graph (and compile time) grows
#: with the tasks; so the vectorised pass only serves very many tasks.
VECTORIZE_FROM_TASKS = 256
_RECURRENT = ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "RNN")


def vectorize_tasks(network: Any, n_tasks: int) -> bool:
    """Whether :func:`task_gradients` should vectorise the ``n_tasks`` backward passes.

    Yes from :data:`VECTORIZE_FROM_TASKS` tasks, except through recurrent layers (whose
    loops take minutes to vectorise); fewer tasks run faster traced one by one.
    """
    if n_tasks < VECTORIZE_FROM_TASKS:
        return False
    stack = list(network.layers)
    while stack:
        layer = stack.pop()
        if type(layer).__name__ in _RECURRENT:
            return False
        stack.extend(getattr(layer, "layers", []) or [])
    return True


def task_gradients(tape: Any, y: Any, x: Any, n_tasks: int, vectorize: bool = False) -> Any:
    """``d y[:, t] / d x`` for every task ``t``, stacked on a last axis ``(N, ..., T)``.

    With ``vectorize`` the tasks are computed together: one backward pass vectorised over
    the task cotangents (``batch_jacobian``), one graph whatever the number of tasks;
    otherwise one backward pass per task (``tape`` must then be persistent).
    """
    import tensorflow as tf

    if n_tasks == 1:
        return tape.gradient(y, x)[..., None]
    if vectorize:
        jac = tape.batch_jacobian(y, x, experimental_use_pfor=True)  # (N, T, ...)
        return tf.transpose(jac, [0, *range(2, len(jac.shape)), 1])
    return tf.stack([
        tape.gradient(y, x, output_gradients=tf.broadcast_to(
            tf.one_hot(t, n_tasks, dtype=y.dtype), tf.shape(y)))
        for t in range(n_tasks)], axis=-1)


def sum_over_bases(a: Any) -> tuple[Any, Any]:
    """Attributions ``(N, L, 4, T)`` (a tensor) summed over bases, signed and absolute,
    ``(N, L, T)`` each, adding the bases one after the other as
    :func:`dfimx.attribution.registry.base_sums` does."""
    import tensorflow as tf

    signed, absolute = a[:, :, 0], tf.abs(a[:, :, 0])
    for b in range(1, a.shape[2] or 4):  # the alphabet's 4 bases
        signed, absolute = signed + a[:, :, b], absolute + tf.abs(a[:, :, b])
    return signed, absolute


def _gradient_output_fn(scorer: Scorer, times_input: bool = False, sums: bool = False
                        ) -> Any:
    """Compiled ``X -> (gradients (N, L, 4, T), outputs (N, T))`` in one pass.

    With ``times_input`` the gradients are multiplied by ``X`` (gradient x input); with
    ``sums`` the function returns ``(signed (N, L, T), absolute (N, L, T), outputs)``, the
    attributions summed over bases (one after the other, as
    :func:`dfimx.attribution.registry.base_sums` adds them).
    """
    network = scorer.network
    n_tasks = scorer.n_tasks
    vec = vectorize_tasks(network, n_tasks)

    def build():
        import tensorflow as tf

        @batch_function
        def fn(x):
            with tf.GradientTape(persistent=n_tasks > 1) as tape:
                tape.watch(x)
                y = network(x, training=False)
            g = task_gradients(tape, y, x, n_tasks, vec)
            a = g * x[..., None] if times_input else g
            if not sums:
                return a, y
            return (*sum_over_bases(a), y)

        return fn

    key = ("gradient+output", n_tasks, times_input) + (("sums",) if sums else ())
    return scorer.compiled(key, build)


def _modified_gradient_fn(scorer: Scorer, rules: Rules) -> Any:
    """Compiled ``x -> (gradients (N, L, 4, T), outputs (N, T))`` under backward ``rules``."""
    network = scorer.network
    n_tasks = scorer.n_tasks
    validate(network, rules)
    vec = vectorize_tasks(network, n_tasks)

    def build():
        import tensorflow as tf

        @batch_function(autograph=False)
        def fn(x):
            with tf.GradientTape(persistent=n_tasks > 1) as tape:
                tape.watch(x)
                y = tf.reshape(run_with_rules(network, x, rules), (tf.shape(x)[0], n_tasks))
            return task_gradients(tape, y, x, n_tasks, vec), y

        return fn

    return scorer.compiled(("rules", rules, n_tasks), build)


def _run_batched(fn: Any, X: np.ndarray, batch_size: int,
                 n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
    """A compiled ``x -> (gradients, outputs)`` over ``X`` in padded batches."""
    import tensorflow as tf

    X = np.asarray(X, dtype=np.float32)
    grads = np.empty(X.shape + (n_tasks,), dtype=np.float32)
    outs = np.empty((len(X), n_tasks), dtype=np.float32)
    for sl in batches(len(X), batch_size):
        b = sl.stop - sl.start
        g, y = fn(tf.constant(pad_rows(X[sl], batch_size)))
        grads[sl], outs[sl] = g.numpy()[:b], y.numpy()[:b]
    return grads, outs


def _run_batched_sums(fn: Any, X: np.ndarray, batch_size: int, n_tasks: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A compiled ``x -> (signed, absolute, outputs)`` over ``X`` in padded batches."""
    import tensorflow as tf

    X = np.asarray(X, dtype=np.float32)
    signed = np.empty(X.shape[:2] + (n_tasks,), dtype=np.float32)
    absolute = np.empty_like(signed)
    outs = np.empty((len(X), n_tasks), dtype=np.float32)
    for sl in batches(len(X), batch_size):
        b = sl.stop - sl.start
        s, a, y = fn(tf.constant(pad_rows(X[sl], batch_size)))
        signed[sl], absolute[sl], outs[sl] = s.numpy()[:b], a.numpy()[:b], y.numpy()[:b]
    return signed, absolute, outs


def gradient_position_sums(
    scorer: Scorer, X: np.ndarray, *, batch_size: int = 256, times_input: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input gradients (``times_input``: gradient x input) summed over bases, signed and
    absolute ``(N, L, T)``, and the scored outputs ``(N, T)``, from one compiled pass.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    >>> s = build_scorer(keras.Model(inp, out)); X = np.ones((3, 5, 4))
    >>> signed, absolute, y = gradient_position_sums(s, X)
    >>> g, _ = gradients_and_outputs(s, X)
    >>> bool(np.array_equal(signed, g[:, :, 0] + g[:, :, 1] + g[:, :, 2] + g[:, :, 3]))
    True
    """
    return _run_batched_sums(_gradient_output_fn(scorer, times_input, sums=True), X,
                             batch_size, scorer.n_tasks)


def gradients_and_outputs(
    scorer: Scorer, X: np.ndarray, *, batch_size: int = 256, times_input: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Input gradients ``(N, L, 4, T)`` and scored outputs ``(N, T)`` from one pass.

    With ``times_input`` the first array is gradient x input.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    >>> g, y = gradients_and_outputs(build_scorer(keras.Model(inp, out)), np.ones((3, 5, 4)))
    >>> g.shape, y.shape
    ((3, 5, 4, 2), (3, 2))
    """
    return _run_batched(_gradient_output_fn(scorer, times_input), X, batch_size,
                        scorer.n_tasks)


def gradients(scorer: Scorer, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Gradient of each scored task w.r.t. the input, ``(N, L, 4, T)``.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    >>> gradients(build_scorer(keras.Model(inp, out)), np.zeros((3, 5, 4))).shape
    (3, 5, 4, 2)
    """
    return gradients_and_outputs(scorer, X, batch_size=batch_size)[0]


def _gradient_with_outputs(scorer, X, references=None, batch_size=256, **_):
    return gradients_and_outputs(scorer, X, batch_size=batch_size)


def _gradient_sums(scorer, X, references=None, batch_size=256, **_):
    return gradient_position_sums(scorer, X, batch_size=batch_size)


@register_method("gradient", uses_reference=False, doc="Plain input gradient (saliency).",
                 with_outputs=_gradient_with_outputs, position_sums=_gradient_sums)
def _gradient_kernel(scorer, X, references=None, batch_size=256, **_):
    return gradients(scorer, X, batch_size=batch_size)


def _grad_x_input_with_outputs(scorer, X, references=None, batch_size=256, **_):
    return gradients_and_outputs(scorer, X, batch_size=batch_size, times_input=True)


def _grad_x_input_sums(scorer, X, references=None, batch_size=256, **_):
    return gradient_position_sums(scorer, X, batch_size=batch_size, times_input=True)


@register_method("grad_x_input", uses_reference=False,
                 doc="Gradient times input (zero reference).",
                 with_outputs=_grad_x_input_with_outputs, position_sums=_grad_x_input_sums)
def _grad_x_input_kernel(scorer, X, references=None, batch_size=256, **_):
    return _grad_x_input_with_outputs(scorer, X, batch_size=batch_size)[0]


def integrated_gradients(
    scorer: Scorer,
    X: np.ndarray,
    references: np.ndarray | None = None,
    *,
    steps: int = 32,
    batch_size: int = 256,
    debug: bool | None = None,
) -> np.ndarray:
    """(Expected) integrated gradients ``(N, L, 4, T)``.

    ``(x - r) * mean_j grad f(r + a_j (x - r))`` with midpoints ``a_j = (j + 1/2) / steps``,
    averaged over the K references (expected IG).  The completeness error
    (``sum - (f(x) - f(r))``) is recorded for
    :func:`~dfimx.attribution.diagnostics.last_summation_delta_violation`.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> scorer = build_scorer(keras.Model(inp, out))
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3, 0]]]
    >>> bool(np.allclose(integrated_gradients(scorer, X, steps=4),
    ...                  gradients(scorer, X) * X[..., None], atol=1e-6))
    True
    """
    import tensorflow as tf

    if int(steps) < 1:
        raise InputError(f"steps must be at least 1, got {steps}", option="steps")
    steps = int(steps)
    X = np.asarray(X, np.float32)
    refs = as_references(X, references)
    n, k = refs.shape[:2]
    xp = np.repeat(X, k, axis=0)
    rp = refs.reshape((n * k,) + X.shape[1:])
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    both = _gradient_output_fn(scorer)
    out = np.empty(xp.shape + (scorer.n_tasks,), np.float32)
    pairs_per_batch = max(1, int(batch_size) // steps)
    for sl in batches(len(xp), pairs_per_batch):
        diff = xp[sl] - rp[sl]
        path = rp[sl][:, None] + alphas[None, :, None, None] * diff[:, None]
        flat = path.reshape((-1,) + X.shape[1:])
        g = both(tf.constant(pad_rows(flat, batch_size)))[0].numpy()[: len(flat)]
        g = g.reshape((sl.stop - sl.start, steps) + g.shape[1:]).mean(axis=1)
        out[sl] = g * diff[..., None]
    fx = predict_batched(scorer, xp, batch_size=batch_size)
    fr = predict_batched(scorer, rp, batch_size=batch_size)
    a_err, r_err = summation_delta_violation(out, fx, fr)
    record("integrated_gradients", a_err, r_err, len(xp), False)
    if debug_enabled(debug) and r_err > 0.05:
        warnings.warn(
            f"integrated_gradients: completeness error {r_err:.3g} (relative); "
            "increase steps",
            RuntimeWarning,
            stacklevel=2,
        )
    return out.reshape((n, k) + out.shape[1:]).mean(axis=1)


@register_method(
    "integrated_gradients",
    uses_reference=True,
    default_reference="zeros",
    doc="Integrated gradients (option steps, default 32); expected IG over K references.",
)
def _ig_kernel(scorer, X, references=None, batch_size=256, **opts):
    return integrated_gradients(scorer, X, references, batch_size=batch_size,
                                **pick_options(opts, "steps", "debug"))


def guided_backprop(scorer: Scorer, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Guided backpropagation ``(N, L, 4, T)``: gradients with negative signal zeroed.

    At every nonlinearity the backward pass keeps only positive upstream signal
    (``f'(z) * max(dy, 0)``; for ReLU this is Springenberg et al.'s rule).

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> guided_backprop(build_scorer(keras.Model(inp, out)), np.ones((2, 5, 4))).shape
    (2, 5, 4, 1)
    """
    fn = _modified_gradient_fn(scorer, Rules("guided", "guided_backprop"))
    return _run_batched(fn, X, batch_size, scorer.n_tasks)[0]


@register_method(
    "guided_backprop",
    uses_reference=False,
    doc="Guided backpropagation: gradients with negative signal zeroed at nonlinearities.",
)
def _guided_kernel(scorer, X, references=None, batch_size=256, **_):
    return guided_backprop(scorer, X, batch_size=batch_size)
