"""Gradients of edited sequences from their originals' forward pass.

A backward pass needs the forward values of the sequence it differentiates.  For an edit
of a convolutional network most of them are the original's: output ``q`` of a
``Conv1D`` changes only when the edit lies in ``q``'s receptive field.
:func:`edit_position_sums` therefore runs each original forward once, keeping the
pre-activation of every ``Conv1D`` in the network's local trunk; for each edited
sequence it recomputes only the window of each convolution's outputs that the edit
reaches (an unpadded convolution of that window of the layer's input), writes it into
the original's values, and runs every other layer (activations, pooling, merges, the
head) as usual.  The backward pass is the ordinary full one, through convolutions whose
forward value is the patched one, so the result is the gradient at the edited sequence,
equal to a plain pass to float32 round-off.  The saving is the forward convolutions
(about 40% of a gradient's cost on a three-layer, 128-filter net); the first layer's
input gradient also takes the folded route of :mod:`dfimx.attribution.conv_fold`.

:func:`edit_deeplift_sums` does the same for DeepLIFT's input pass against one reference
for all inputs (zeros, gc), through :func:`dfimx.attribution.rules.patching_convolutions`;
its reference pass is the usual one.  Per-base scans (one base substituted per mutant) and
element plans with one mutant per source take this route in :mod:`dfimx.dfim.kernel` for
``gradient``, ``grad_x_input`` and ``deeplift`` (``Method.edit_sums``).  Only
convolutions worth patching are patched (:data:`MIN_SAVED_WORK`); a model with none, or
whose patched pass does not reproduce the plain one on a random check (:func:`edit_plan`,
:func:`rescale_edit_plan`), takes the plain pass.

Examples
--------
>>> import numpy as np, keras
>>> from dfimx.models import build_scorer
>>> from dfimx.attribution.backprop import gradient_position_sums
>>> inp = keras.Input((200, 4))
>>> h = keras.layers.Conv1D(8, 25, padding="same", activation="relu")(inp)
>>> out = keras.layers.Dense(1)(keras.layers.Flatten()(h))
>>> scorer = build_scorer(keras.Model(inp, out))
>>> edit_plan(scorer, 200) is not None  # its convolution is patched
True
>>> X = np.eye(4, dtype="float32")[np.arange(200) % 4][None]
>>> mutant = X.copy(); mutant[0, 117] = [0, 0, 0, 1]
>>> got = edit_position_sums(scorer, X, np.array([[0, 117, 118]]), mutant, times_input=True)
>>> want = gradient_position_sums(scorer, mutant, times_input=True)
>>> all(np.allclose(g, w, atol=1e-6) for g, w in zip(got, want))
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dfimx.attribution import backprop, conv_fold
from dfimx.attribution.deeplift import DEFAULT_MAXPOOL, deeplift_scores
from dfimx.attribution.diagnostics import debug_enabled, record, violation_from_sums
from dfimx.attribution.mutagenesis import layer_reach, takes_training, tensor_reaches
from dfimx.attribution.registry import METHODS, base_sums, pick_options
from dfimx.attribution.rules import Rules, patching_convolutions, run_rescale, validate
from dfimx.errors import InputError
from dfimx.models import Scorer, batch_function, batches, pad_rows, predict_batched

#: A ``Conv1D`` is patched only when a single-base edit saves at least this many
#: multiplications per output value it copies (kernel width x input channels x the share
#: of outputs not recomputed): below it the gathers and the scatter of the patch cost more
#: than the convolution (measured: the small bench net's Conv1D(16, 11) over 4 channels,
#: 41, ran 0.8-0.96x under DeepLIFT; the mid net's first layer, 73, and the others, 580 and
#: 1,225, gain).
MIN_SAVED_WORK = 64


#: Originals per call of the forward pass that records their pre-activations.
REFERENCE_ROWS = 8


@dataclass(frozen=True)
class ConvWindow:
    """A ``Conv1D`` whose outputs an edit changes only in a window.

    Output ``q`` depends on network input ``[q * stride + lo, q * stride + hi]`` and on
    the layer's own input ``[q + a, q + b]``; ``length`` is its number of outputs.
    """

    lo: int
    hi: int
    stride: int
    a: int
    b: int
    length: int

    def span(self, width: int) -> int:
        """Outputs an edit of ``width`` bases can change (at most)."""
        return (width - 1 + self.hi - self.lo) // self.stride + 1


@dataclass
class EditPlan:
    """The patched ``Conv1D`` layers of a network (by node id) and its compiled passes."""

    nodes: list[Any]
    windows: dict[int, ConvWindow]
    reference: Any  # BatchFunction: x (N, L, 4) -> the windows' pre-activations
    passes: dict[tuple, Any]


def _patchable(op: Any) -> bool:
    import keras

    return (type(op) is keras.layers.Conv1D and tuple(op.strides) == (1,)
            and getattr(op, "groups", 1) == 1 and op.data_format == "channels_last"
            and op.padding in ("same", "valid"))


def _windows(network: Any) -> tuple[list[Any], dict[int, ConvWindow]]:
    nodes, reach, _, _ = tensor_reaches(network)
    uses: dict[int, int] = {}
    for node in nodes:
        uses[id(node.operation)] = uses.get(id(node.operation), 0) + 1
    windows = {}
    for node in nodes:
        op = node.operation
        (t,) = node.outputs if len(node.outputs) == 1 else (None,)
        if (t is None or id(t) not in reach or not _patchable(op) or t.shape[1] is None
                or uses[id(op)] != 1):  # a layer shared by several nodes keeps its pass
            continue
        lo, hi, stride = reach[id(t)]
        a, b, _ = layer_reach(op)
        w = ConvWindow(lo, hi, stride, a, b, int(t.shape[1]))
        width, channels = int(op.kernel.shape[0]), int(op.kernel.shape[1])
        if width * channels * (1 - w.span(1) / w.length) >= MIN_SAVED_WORK:
            windows[id(node)] = w
    return nodes, windows


def _pre_activation(op: Any, u: Any) -> Any:
    """What ``Conv1D.call`` computes before its activation."""
    from keras import ops

    y = op.convolution_op(u, op.kernel)
    if op.use_bias:
        y = ops.add(y, ops.reshape(op.bias, (1, 1, -1)))
    return y


def _walk(plan_nodes: list[Any], network: Any, x: Any, windows: dict[int, ConvWindow],
          conv: Any) -> Any:
    """Run the network on ``x``; for the ``Conv1D`` nodes in ``windows``, ``conv(node, u)``
    gives the pre-activation at layer input ``u`` (None: the layer runs as usual)."""
    values = {id(network.inputs[0]): x}
    for node in plan_nodes:
        op = node.operation
        z = None
        if id(node) in windows:
            (t,) = node.input_tensors
            z = conv(node, values[id(t)])
        if z is not None:
            outs = [op.activation(z)]
        else:
            args, kwargs = node.arguments.fill_in(values)
            if takes_training(op):
                kwargs["training"] = False
            outs = op(*args, **kwargs)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for t, y in zip(node.outputs, outs, strict=False):
            values[id(t)] = y
    return values[id(network.outputs[0])]


def _conv_with_value(op: Any, u: Any, z: Any) -> Any:
    """``z`` (the patched pre-activation of ``op`` at input ``u``), differentiable in
    ``u`` as ``op``'s convolution is: the forward convolution itself is never run."""
    import tensorflow as tf

    kernel = tf.convert_to_tensor(op.kernel)
    plan = (conv_fold.layer_fold_plan(op, u, op.padding)
            if op.padding in ("same", "valid") else None)
    folded = None if plan is None else conv_fold.folded_kernel(kernel, plan)

    @tf.custom_gradient
    def value(u, z):
        def grad(dz):
            if plan is not None:
                return conv_fold.input_gradient(dz, folded, int(u.shape[1]), plan), None
            # the transposed convolution, sized by u's shape, not by a forward result
            return tf.nn.conv1d_transpose(dz, kernel, tf.shape(u), 1, op.padding.upper(),
                                          dilations=op.dilation_rate[0]), None

        return tf.identity(z), grad

    return value(u, tf.stop_gradient(z))


def _patched_pre_activation(op: Any, w: ConvWindow, width: int, u: Any, ref: Any,
                            rows: Any, starts: Any) -> Any:
    """The pre-activation of ``op`` at the mutants: the originals' ``ref`` (gathered by
    ``rows``) with the window of outputs each edit reaches recomputed from ``u``; None
    when that window covers the layer."""
    import tensorflow as tf

    span = w.span(width)
    if span >= w.length:
        return None
    first = tf.clip_by_value(-tf.math.floordiv(w.hi - starts, w.stride), 0,
                             w.length - span)  # the window's first output
    at = first[:, None] + w.a + tf.range(span + w.b - w.a)[None]
    inside = tf.cast((at >= 0) & (at < tf.shape(u)[1]), u.dtype)[..., None]
    crop = tf.gather(u, tf.clip_by_value(at, 0, tf.shape(u)[1] - 1),
                     batch_dims=1) * inside  # zero padding, as the layer's own
    new = tf.nn.convolution(crop, op.kernel, padding="VALID", dilations=op.dilation_rate[0])
    if op.use_bias:
        new = new + op.bias
    n = tf.shape(u)[0]
    where = tf.stack([tf.repeat(tf.range(n), span),
                      tf.reshape(first[:, None] + tf.range(span)[None], [-1])], 1)
    z = tf.tensor_scatter_nd_update(tf.gather(ref, rows), where,
                                    tf.reshape(new, [-1, new.shape[-1]]))
    return _conv_with_value(op, u, z)


def _patched_pass(plan: EditPlan, scorer: Scorer, width: int, times_input: bool) -> Any:
    """Compiled ``(x, rows, starts, *pre-activations) -> (signed, absolute, outputs)``."""
    network, n_tasks = scorer.network, scorer.n_tasks
    vec = backprop.vectorize_tasks(network, n_tasks)
    order = list(plan.windows)

    def fn(x, rows, starts, *refs):
        import tensorflow as tf

        def conv(node, u):
            return _patched_pre_activation(node.operation, plan.windows[id(node)], width, u,
                                           refs[order.index(id(node))], rows, starts)

        with tf.GradientTape(persistent=n_tasks > 1) as tape:
            tape.watch(x)
            y = tf.reshape(_walk(plan.nodes, network, x, plan.windows, conv),
                           (tf.shape(x)[0], n_tasks))
        g = backprop.task_gradients(tape, y, x, n_tasks, vec)
        return (*backprop.sum_over_bases(g * x[..., None] if times_input else g), y)

    return batch_function(fn, autograph=False)


def _patched_rescale_pass(plan: EditPlan, scorer: Scorer, width: int, rules: Rules) -> Any:
    """Compiled ``(x, r, rows, starts, *pre-activations) -> (signed, absolute, outputs,
    sum c, sum |c|)`` of DeepLIFT against the one reference row ``r``."""
    network, n_tasks = scorer.network, scorer.n_tasks
    validate(network, rules)
    vec = backprop.vectorize_tasks(network, n_tasks)
    order = list(plan.windows)
    by_layer = {id(node.operation): node for node in plan.nodes if id(node) in plan.windows}

    def fn(x, r, rows, starts, *refs):
        import tensorflow as tf

        def patch(op, u):
            node = by_layer.get(id(op))
            if node is None:
                return None
            return _patched_pre_activation(op, plan.windows[id(node)], width, u,
                                           refs[order.index(id(node))], rows, starts)

        with tf.GradientTape(persistent=n_tasks > 1, watch_accessed_variables=False) as tape:
            tape.watch(x)
            with patching_convolutions(patch):
                yx, _ = run_rescale(network, x, r, rules)
            yx = tf.reshape(yx, (tf.shape(x)[0], n_tasks))
        contrib = backprop.task_gradients(tape, yx, x, n_tasks, vec) * (x - r)[..., None]
        return (*backprop.sum_over_bases(contrib), yx, tf.reduce_sum(contrib, axis=[1, 2]),
                tf.reduce_sum(tf.abs(contrib), axis=[1, 2]))

    return batch_function(fn, autograph=False)


def edit_plan(scorer: Scorer, length: int) -> EditPlan | None:
    """The :class:`EditPlan` of ``scorer`` for sequences of ``length`` (cached), or None
    when the network has no patchable ``Conv1D`` or the patched pass does not reproduce
    the plain gradient on random edited sequences."""

    def build() -> EditPlan | None:
        try:
            nodes, windows = _windows(scorer.network)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if not windows:
            return None

        def reference(x):
            zs = []

            def conv(node, u):
                zs.append(_pre_activation(node.operation, u))
                return zs[-1]

            _walk(nodes, scorer.network, x, windows, conv)
            return tuple(zs)

        plan = EditPlan(nodes, windows, batch_function(reference, autograph=False), {})
        try:
            ok = _check(plan, scorer, length)
        except Exception:  # noqa: BLE001 - a layer the patched pass cannot run: plain pass
            return None
        return plan if ok else None

    return scorer.compiled(("edit-plan", int(length)), build)


def _random_edits(length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random originals and single-base edits of them at both ends and inside."""
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, length))]
    at = np.unique(np.clip([0, 1, length // 3, length // 2, length - 2, length - 1],
                           0, length - 1))
    edits = np.array([[i, p, p + 1] for i in range(2) for p in at])
    mutants = X[edits[:, 0]].copy()
    rows = np.arange(len(edits))
    mutants[rows, edits[:, 1]] = np.roll(mutants[rows, edits[:, 1]], 1, axis=-1)
    return X, edits, mutants


def _agree(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> bool:
    return all(np.allclose(g, w, rtol=1e-4, atol=1e-5 * (1.0 + float(np.abs(w).max())))
               for g, w in zip(got, want, strict=True))


def _check(plan: EditPlan, scorer: Scorer, length: int) -> bool:
    """Whether patched and plain gradients agree on random edited sequences."""
    X, edits, mutants = _random_edits(length)
    got = _run_patched(plan, X, edits, mutants, 64, ("gradient", False),
                       lambda w: _patched_pass(plan, scorer, w, False))
    return _agree(got, backprop.gradient_position_sums(scorer, mutants, batch_size=64))


def _run_patched(plan: EditPlan, X: np.ndarray, edits: np.ndarray, mutants: np.ndarray,
                 batch_size: int, kind: tuple, make_pass: Any, *lead: Any
                 ) -> tuple[np.ndarray, ...]:
    """The outputs (each ``(B, ...)``) of the pass ``make_pass(width)`` over the mutants,
    in padded batches; ``lead`` arguments come before the rows."""
    n = len(mutants)
    outs: list[np.ndarray] = []
    # edits of one width class share a window size (and a graph); a row's numbers
    # depend on its own width only, not on the rows it is batched with
    width = np.maximum(1, edits[:, 2] - edits[:, 1])
    width_class = 1 << np.ceil(np.log2(width)).astype(np.int64)
    refs: dict[int, tuple[Any, ...]] = {}  # the pre-activations of each original
    for w in np.unique(width_class).tolist():
        key = (*kind, int(w))
        fn = plan.passes.get(key)
        if fn is None:
            fn = plan.passes.setdefault(key, make_pass(int(w)))
        rows_w = np.flatnonzero(width_class == w)
        for sl in batches(len(rows_w), batch_size):
            rows = rows_w[sl]
            seqs, local = np.unique(edits[rows, 0], return_inverse=True)
            missing = [i for i in seqs.tolist() if i not in refs]
            for part in batches(len(missing), REFERENCE_ROWS):
                # always REFERENCE_ROWS rows a call (zero rows pad it): one kernel for
                # every call, so an original's values do not depend on its companions
                chunk = missing[part]
                x = np.zeros((REFERENCE_ROWS,) + X.shape[1:], np.float32)
                x[: len(chunk)] = X[chunk]
                values = [v.numpy() for v in plan.reference(x)]
                for j, i in enumerate(chunk):
                    refs[i] = tuple(v[j : j + 1] for v in values)
            ref = [np.concatenate([refs[i][k] for i in seqs.tolist()])
                   for k in range(len(plan.windows))]
            x = pad_rows(mutants[rows], batch_size)
            pad = len(x) - len(rows)
            local = np.concatenate([local, np.zeros(pad, local.dtype)]).astype(np.int32)
            starts = np.concatenate([edits[rows, 1], np.zeros(pad, np.int64)]).astype(np.int32)
            got = [v.numpy()[: len(rows)] for v in fn(x, *lead, local, starts, *ref)]
            if not outs:
                outs = [np.empty((n,) + v.shape[1:], v.dtype) for v in got]
            for out, v in zip(outs, got, strict=True):
                out[rows] = v
            if len(refs) > 2 * batch_size:
                refs = {i: refs[i] for i in seqs.tolist()}
    return tuple(outs)


def edit_position_sums(
    scorer: Scorer,
    X: np.ndarray,
    edits: np.ndarray,
    mutants: np.ndarray,
    *,
    batch_size: int = 256,
    times_input: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input gradients (``times_input``: gradient x input) of edited sequences summed over
    bases, signed and absolute ``(B, L, T)``, and their outputs ``(B, T)``.

    ``edits[b] = (i, start, end)``: ``mutants[b]`` equals the original ``X[i]`` outside
    ``[start, end)``.  Where :func:`edit_plan` covers the model, each mutant takes the
    patched pass (module docstring); otherwise the plain one
    (:func:`dfimx.attribution.backprop.gradient_position_sums`).  Either way the numbers
    of a row do not depend on the rows it is batched with.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((12, 4)); h = keras.layers.Conv1D(2, 3, activation="relu")(inp)
    >>> s = build_scorer(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(h))))
    >>> X = np.eye(4, dtype="float32")[np.arange(12) % 4][None]
    >>> m = X.copy(); m[0, 5] = [1, 0, 0, 0]
    >>> [a.shape for a in edit_position_sums(s, X, np.array([[0, 5, 6]]), m)]
    [(1, 12, 1), (1, 12, 1), (1, 1)]
    """
    X = np.asarray(X, np.float32)
    mutants = np.asarray(mutants, np.float32)
    edits = np.asarray(edits, np.int64).reshape(len(mutants), 3)
    plan = edit_plan(scorer, X.shape[1]) if len(mutants) else None
    if plan is None:
        return backprop.gradient_position_sums(scorer, mutants, batch_size=batch_size,
                                               times_input=times_input)
    return _run_patched(plan, X, edits, mutants, max(1, int(batch_size)),
                        ("gradient", bool(times_input)),
                        lambda w: _patched_pass(plan, scorer, w, bool(times_input)))


def edit_deeplift_sums(
    scorer: Scorer,
    X: np.ndarray,
    edits: np.ndarray,
    mutants: np.ndarray,
    reference: np.ndarray | None = None,
    *,
    batch_size: int = 256,
    maxpool: str = DEFAULT_MAXPOOL,
    method: str = "deeplift",
    debug: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DeepLIFT (Rescale) contributions of edited sequences against one ``reference``
    ``(L, 4)`` (zeros when None), summed over bases, signed and absolute ``(B, L, T)``,
    and the outputs ``(B, T)``; ``edits`` as in :func:`edit_position_sums`.

    The summation-to-delta check is recorded as by
    :func:`dfimx.attribution.deeplift.deeplift_scores`, which gives the same numbers to
    float32 round-off (and serves a model :func:`edit_plan` does not cover).

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((16, 4)); h = keras.layers.Conv1D(4, 5, activation="tanh")(inp)
    >>> out = keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(h))
    >>> s = build_scorer(keras.Model(inp, out))
    >>> X = np.eye(4, dtype="float32")[np.arange(16) % 4][None]
    >>> m = X.copy(); m[0, 7] = 0.0  # the base at 7 zeroed
    >>> signed, absolute, y = edit_deeplift_sums(s, X, np.array([[0, 7, 8]]), m)
    >>> bool(np.allclose(signed.sum(axis=1), y - s.predict(0 * X), atol=1e-5))
    True
    """
    import tensorflow as tf

    X = np.asarray(X, np.float32)
    mutants = np.asarray(mutants, np.float32)
    edits = np.asarray(edits, np.int64).reshape(len(mutants), 3)
    r = np.zeros((1,) + X.shape[1:], np.float32) if reference is None else np.asarray(
        reference, np.float32).reshape((1,) + X.shape[1:])
    rules = Rules("rescale", method, maxpool)
    plan = rescale_edit_plan(scorer, X.shape[1], rules) if len(mutants) else None
    if plan is None:
        scores, outputs = deeplift_scores(
            scorer, mutants, np.broadcast_to(r, mutants.shape), batch_size=batch_size,
            maxpool=maxpool, debug=debug, method=method, return_outputs=True)
        return (*base_sums(scores), outputs)
    signed, absolute, outputs, total, abs_total = _run_patched(
        plan, X, edits, mutants, max(1, int(batch_size)), ("rescale", rules),
        lambda w: _patched_rescale_pass(plan, scorer, w, rules), tf.constant(r))
    f_ref = predict_batched(scorer, r, batch_size=1)
    record(method, *violation_from_sums(total, abs_total, outputs, f_ref), len(mutants),
           debug_enabled(debug))
    return signed, absolute, outputs


def rescale_edit_plan(scorer: Scorer, length: int, rules: Rules) -> EditPlan | None:
    """:func:`edit_plan` when it also serves DeepLIFT under ``rules`` (checked once, on
    random edits, against :func:`dfimx.attribution.deeplift.deeplift_scores`), else None."""
    plan = edit_plan(scorer, length)
    if plan is None:
        return None

    def build() -> bool:
        X, edits, mutants = _random_edits(length)
        r = np.full((1, length, 4), 0.25, np.float32)
        try:
            got = _run_patched(plan, X, edits, mutants, 64, ("rescale", rules),
                               lambda w: _patched_rescale_pass(plan, scorer, w, rules),
                               r)[:3]
        except InputError:
            raise
        except Exception:  # noqa: BLE001 - a layer the patched pass cannot run: plain pass
            return False
        scores, outputs = deeplift_scores(scorer, mutants, np.broadcast_to(r[0], mutants.shape),
                                          batch_size=64, maxpool=rules.maxpool,
                                          method=rules.method, return_outputs=True)
        return _agree(got, (*base_sums(scores), outputs))

    ok = scorer.compiled(("edit-plan-rescale", int(length), rules), build)
    return plan if ok else None


def _gradient_edits(scorer, X, edits, mutants, reference=None, batch_size=256, **_):
    return edit_position_sums(scorer, X, edits, mutants, batch_size=batch_size)


def _grad_x_input_edits(scorer, X, edits, mutants, reference=None, batch_size=256, **_):
    return edit_position_sums(scorer, X, edits, mutants, batch_size=batch_size,
                              times_input=True)


def _deeplift_edits(scorer, X, edits, mutants, reference=None, batch_size=256, **opts):
    return edit_deeplift_sums(scorer, X, edits, mutants, reference, batch_size=batch_size,
                              **pick_options(opts, "maxpool", "debug"))


# the sums of edited sequences (Method.edit_sums) of the methods whose reference, if any,
# is one row for every input
for _name, _fn in (("gradient", _gradient_edits), ("grad_x_input", _grad_x_input_edits),
                   ("deeplift", _deeplift_edits)):
    METHODS[_name] = replace(METHODS[_name], edit_sums=_fn)

__all__ = ["MIN_SAVED_WORK", "ConvWindow", "EditPlan", "edit_deeplift_sums", "edit_plan",
           "edit_position_sums", "rescale_edit_plan"]
