"""In-silico mutagenesis (ISM): the exhaustive single-base reference method, and fast ISM.

Fast ISM (after Nair et al., Bioinformatics 2022): an edit changes the output of a
convolutional stack only at the positions whose receptive field holds it.  The network
is split at the first layer that is not local (a flatten, dense over positions, global
pooling, recurrent or attention layer): the **trunk** before it (Conv1D, pooling,
elementwise layers, normalization over channels, merges of such tensors) is run once on
the original and, for each edited sequence, only on a crop around the edit; the crop's
exact outputs are written into the cached trunk output of the original, and the **head**
runs on that.  Results equal a full forward pass to float32 round-off.  Models the split
does not cover (the trunk would be the input itself, layers of unknown locality, skip
connections around the split) take the full forward pass.

Examples
--------
>>> import numpy as np, keras
>>> from dfimx.models import build_scorer
>>> inp = keras.Input((64, 4)); h = keras.layers.Conv1D(4, 5, padding="same")(inp)
>>> out = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(h))
>>> split = conv_split(build_scorer(keras.Model(inp, out)), 64)
>>> split.ok, (split.lo, split.hi, split.stride)
(True, (-2, 2, 1))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dfimx.attribution.registry import register_method
from dfimx.models import (
    MIN_MODEL_BATCH,
    Scorer,
    batch_function,
    batches,
    pad_rows,
    predict_batched,
)

#: Elementwise (per-position) Keras layers: position ``q`` of the output depends only on
#: position ``q`` of the input.
_POINTWISE = frozenset({
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "SpatialDropout1D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "Identity", "Dense", "EinsumDense",
    "BatchNormalization", "LayerNormalization", "UnitNormalization",
})
_MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                     "Concatenate"})


@dataclass
class ConvSplit:
    """A network split into a local trunk and a head, for fast ISM.

    Trunk output position ``q`` depends only on input positions
    ``[q * stride + lo, q * stride + hi]``.  ``ok`` is False when the network cannot be
    split (then every edit takes the full forward pass).
    """

    ok: bool
    trunk: Any = None
    head: Any = None
    lo: int = 0
    hi: int = 0
    stride: int = 1
    length: int = 0
    why: str = ""
    patched_head: Any = None
    channels: int = 0
    #: the trunk restricted to the cone of one edit (:func:`_cone_trunk`), or None
    cone: Any = None


def layer_reach(layer: Any) -> tuple[int, int, int] | None:
    """``(a, b, s)``: output ``q`` of ``layer`` reads its input ``[q*s + a, q*s + b]``;
    None for a layer that is not local along the sequence (or not known to be)."""
    name = type(layer).__name__
    cfg = layer.get_config()
    if cfg.get("data_format", "channels_last") != "channels_last":
        return None
    if name in _POINTWISE:
        axis = cfg.get("axis", -1)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if name in ("BatchNormalization", "LayerNormalization", "UnitNormalization", "Softmax") \
                and any(a not in (-1, 2) for a in axes):
            return None
        return (0, 0, 1)
    if name == "PReLU":  # one slope for all positions only when shared along them
        return (0, 0, 1) if 1 in (cfg.get("shared_axes") or []) else None
    if name == "Conv1D":
        k, d, s = cfg["kernel_size"][0], cfg["dilation_rate"][0], cfg["strides"][0]
        e = d * (k - 1)
        if cfg["padding"] == "valid":
            return (0, e, s)
        if s != 1:
            return None
        if cfg["padding"] == "same":
            return (-(e // 2), e - e // 2, 1)
        if cfg["padding"] == "causal":
            return (-e, 0, 1)
        return None
    if name in ("MaxPooling1D", "AveragePooling1D"):
        p, s = cfg["pool_size"][0], cfg["strides"][0] or cfg["pool_size"][0]
        if cfg["padding"] == "valid":
            return (0, p - 1, s)
        if s == 1:
            return (-((p - 1) // 2), (p - 1) - (p - 1) // 2, 1)
        return None
    return None


def _nodes(network: Any) -> list[Any]:
    """The operation nodes of a functional network in execution order."""
    out = []
    for depth in sorted(network._nodes_by_depth, reverse=True):  # noqa: SLF001
        out.extend(n for n in network._nodes_by_depth[depth]  # noqa: SLF001
                   if n.operation is not None and not n.is_input)
    return out


def _run(nodes: list[Any], values: dict[int, Any], want: Any) -> Any:
    """Run ``nodes`` from the tensors in ``values`` (by id) and return ``want``'s value."""
    for node in nodes:
        if any(id(x) not in values for x in node.input_tensors):
            continue
        args, kwargs = node.arguments.fill_in(values)
        if takes_training(node.operation):
            kwargs["training"] = False
        outs = node.operation(*args, **kwargs)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for x, y in zip(node.outputs, outs, strict=False):
            values[id(x)] = y
    return values[id(want)]


def takes_training(op: Any) -> bool:
    import inspect

    try:
        return "training" in inspect.signature(op.call).parameters
    except (TypeError, ValueError, AttributeError):
        return False


def tensor_reaches(network: Any) -> tuple[list[Any], dict[int, tuple[int, int, int]],
                                           dict[int, Any], dict[int, Any]]:
    """The local tensors of a one-input functional ``network`` and their reach.

    Returns the operation nodes in execution order, ``reach[id(T)] = (lo, hi, s)`` for
    every tensor ``T`` that is local along the sequence (position ``q`` of ``T`` depends
    only on input positions ``[q * s + lo, q * s + hi]``), the local tensors by id, and
    the local tensors that a non-local operation reads (by id).
    """
    inp = network.inputs[0]
    local: dict[int, tuple[int, int, int]] = {id(inp): (0, 0, 1)}
    tensors: dict[int, Any] = {id(inp): inp}
    nodes = _nodes(network)
    consumers_nonlocal: dict[int, Any] = {}
    for node in nodes:
        ins = list(node.input_tensors)
        infos = [local.get(id(x)) for x in ins]
        name = type(node.operation).__name__
        info = None
        if ins and all(i is not None for i in infos):
            strides = {i[2] for i in infos}
            if len(ins) == 1:
                r = layer_reach(node.operation)
                if r is not None:
                    lo, hi, s_in = infos[0]
                    info = (lo + r[0] * s_in, hi + r[1] * s_in, s_in * r[2])
            elif name in _MERGES and len(strides) == 1:
                cfg = node.operation.get_config()
                if name != "Concatenate" or cfg.get("axis", -1) in (-1, 2):
                    info = (min(i[0] for i in infos), max(i[1] for i in infos), strides.pop())
        if info is not None:
            for x in node.outputs:
                local[id(x)] = info
                tensors[id(x)] = x
        else:
            for x in ins:
                if id(x) in local:
                    consumers_nonlocal[id(x)] = x
    return nodes, local, tensors, consumers_nonlocal


def _analyse(network: Any, length: int) -> ConvSplit:
    """Find the trunk of ``network`` and its receptive field (see :class:`ConvSplit`)."""
    if len(network.inputs) != 1 or len(network.outputs) != 1:
        return ConvSplit(False, why="one input and one output needed")
    inp = network.inputs[0]
    nodes, local, _, consumers_nonlocal = tensor_reaches(network)
    out = network.outputs[0]
    if id(out) in local:
        consumers_nonlocal[id(out)] = out
    if len(consumers_nonlocal) != 1:
        return ConvSplit(False, why=f"{len(consumers_nonlocal)} tensors cross the split")
    (split_id, split), = consumers_nonlocal.items()
    if split_id == id(inp):
        return ConvSplit(False, why="no convolutional trunk")
    lo, hi, stride = local[split_id]
    trunk_nodes = [n for n in nodes if all(id(x) in local for x in n.outputs)]
    head_nodes = [n for n in nodes if not all(id(x) in local for x in n.outputs)]
    if split.shape[1] is None:
        return ConvSplit(False, why="trunk output length unknown")
    readers = [n for n in head_nodes if any(id(x) == split_id for x in n.input_tensors)]
    mean = None  # a global average over positions, the only reader of the trunk output
    if len(readers) == 1 and type(readers[0].operation).__name__ == "GlobalAveragePooling1D" \
            and not readers[0].operation.get_config().get("keepdims", False):
        mean = readers[0].outputs[0]
    return ConvSplit(True, trunk=(trunk_nodes, inp, split), head=(head_nodes, split, out, mean),
                     lo=int(lo), hi=int(hi), stride=int(stride), length=int(length))


def conv_split(scorer: Scorer, length: int) -> ConvSplit:
    """The trunk/head split of ``scorer``'s network for sequences of ``length`` (cached).

    The trunk and head are compiled ``tf.function`` s; the split is checked once on
    random input: trunk then head must equal the full network (else ``ok`` is False).
    """
    def build() -> ConvSplit:
        import tensorflow as tf

        try:
            split = _analyse(scorer.network, length)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return ConvSplit(False, why=f"{type(exc).__name__}: {exc}")
        if not split.ok:
            return split
        (t_nodes, t_in, t_out), (h_nodes, h_in, h_out, mean) = split.trunk, split.head

        @batch_function
        def trunk(x):
            return _run(t_nodes, {id(t_in): x}, t_out)

        @batch_function
        def head(z):
            y = _run(h_nodes, {id(h_in): z}, h_out)
            return tf.reshape(y, (tf.shape(z)[0], scorer.n_tasks))

        @batch_function
        def patched_head(base, rows, dst, vals):
            if mean is not None:
                # a global average: the originals' means plus the changes / L', without
                # forming the (rows, L', C) patched outputs
                old = tf.gather_nd(base, tf.stack([tf.gather(rows, dst[:, 0]), dst[:, 1]], 1))
                change = tf.math.unsorted_segment_sum(vals - old, dst[:, 0], tf.shape(rows)[0])
                pooled = tf.gather(tf.reduce_mean(base, axis=1), rows) + change / tf.cast(
                    tf.shape(base)[1], base.dtype)
                y = _run(h_nodes, {id(mean): pooled}, h_out)
                return tf.reshape(y, (tf.shape(rows)[0], scorer.n_tasks))
            # the originals' trunk outputs, one per row, with the changed positions written in
            z = tf.tensor_scatter_nd_update(tf.gather(base, rows), dst, vals)
            return head(z)

        x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (2, length))]
        try:
            z = trunk(tf.constant(x))
            got = head(z).numpy()
        except Exception as exc:  # noqa: BLE001 - an unsplittable graph takes the full pass
            return ConvSplit(False, why=f"{type(exc).__name__}: {exc}")
        want = predict_batched(scorer, x, batch_size=2)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5 * (1 + np.abs(want).max())):
            return ConvSplit(False, why="trunk and head do not reproduce the network")
        split.trunk, split.head, split.patched_head = trunk, head, patched_head
        split.channels = int(z.shape[-1])
        split.cone = _cone_trunk(t_nodes, t_in, t_out, x, z)
        return split

    return scorer.compiled(("conv-split", int(length)), build)


@dataclass
class ConeTrunk:
    """The trunk evaluated only where one edit's changed outputs need it.

    Every trunk tensor ``T`` of an edit whose changed outputs are ``[qa, qb]`` is needed
    on ``[qa + lo[T], qb + hi[T]]`` (in ``T``'s own positions): convolutions run unpadded
    on exactly the positions their consumers read, so the work shrinks layer by layer
    towards the output instead of every layer covering the whole input crop.  It applies
    to trunks of stride-1 ``Conv1D`` layers (ungrouped), elementwise layers and merges,
    and to edits whose cone lies inside the sequence at every layer (``q_min <= qa``,
    ``qb <= q_max``), where no layer's zero padding is read; other edits take the
    padded crop.
    """

    fn: Any
    lo_in: int
    hi_in: int
    q_min: int
    q_max: int


def _cone_trunk(nodes: list[Any], inp: Any, out: Any, x: np.ndarray, z: Any
                ) -> ConeTrunk | None:
    """The :class:`ConeTrunk` of a trunk, or None when a layer is not covered or the cone
    does not reproduce the trunk on ``x`` (trunk outputs ``z``)."""
    import tensorflow as tf

    reach: dict[int, tuple[int, int]] = {}
    for node in nodes:
        op, name = node.operation, type(node.operation).__name__
        if name == "Conv1D":
            cfg = op.get_config()
            if cfg["strides"][0] != 1 or cfg.get("groups", 1) != 1:
                return None
        elif name not in _POINTWISE and name not in _MERGES:
            return None
        r = layer_reach(op) if name not in _MERGES else (0, 0, 1)
        if r is None or r[2] != 1:
            return None
        reach[id(node)] = (r[0], r[1])
    need: dict[int, list[int]] = {id(out): [0, 0]}
    for node in reversed(nodes):  # consumers before producers
        got = [need.get(id(t)) for t in node.outputs]
        if any(g is None for g in got):
            continue
        lo, hi = min(g[0] for g in got), max(g[1] for g in got)
        r_lo, r_hi = reach[id(node)]
        for t in node.input_tensors:
            cur = need.setdefault(id(t), [lo + r_lo, hi + r_hi])
            cur[0], cur[1] = min(cur[0], lo + r_lo), max(cur[1], hi + r_hi)
    if id(inp) not in need:
        return None
    tensors = {id(inp): inp}
    for node in nodes:
        tensors.update({id(t): t for t in node.outputs})
    q_min = max(-need[i][0] for i in need)
    q_max = min(int(tensors[i].shape[1]) - 1 - need[i][1] for i in need)
    lo_in, hi_in = need[id(inp)]

    def crop(value: Any, have: list[int], want: list[int], span: int) -> Any:
        a = want[0] - have[0]
        return value[:, a : a + span + want[1] - want[0]]

    def run(xc: Any, span: int) -> Any:
        values = {id(inp): xc}
        for node in nodes:
            if any(id(t) not in need for t in node.outputs):
                continue
            (o,) = node.outputs
            op, want = node.operation, need[id(o)]
            if type(op).__name__ == "Conv1D":
                (t,) = node.input_tensors
                r_lo, _ = reach[id(node)]
                # unpadded: output q from input [q + r_lo, q + r_hi]
                y = tf.nn.convolution(values[id(t)], op.kernel, padding="VALID",
                                      dilations=op.get_config()["dilation_rate"][0])
                if op.bias is not None:
                    y = y + op.bias
                y = crop(op.activation(y), [need[id(t)][0] - r_lo, 0], want, span)
            else:
                local = {id(t): crop(values[id(t)], need[id(t)], want, span)
                         for t in node.input_tensors}
                args, kwargs = node.arguments.fill_in(local)
                if takes_training(op):
                    kwargs["training"] = False
                y = op(*args, **kwargs)
            values[id(o)] = y
        return values[id(out)]

    fn = batch_function(run)
    split_len = int(out.shape[1])
    qa = q_min
    span = min(q_max, split_len - 1) - qa + 1
    if span < 1:
        return None
    try:
        got = fn(tf.constant(x[:, qa + lo_in : qa + span - 1 + hi_in + 1]), span).numpy()
    except Exception:  # noqa: BLE001 - a layer the cone cannot run: the padded crop
        return None
    want = z.numpy()[:, qa : qa + span]
    scale = 1e-5 * (1.0 + float(np.abs(want).max()))
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=scale):
        return None
    return ConeTrunk(fn, int(lo_in), int(hi_in), int(q_min), int(q_max))


def _crops(split: ConvSplit, starts: np.ndarray, ends: np.ndarray, n_out: int):
    """For edits inside ``[starts, ends)``: the trunk outputs they change ``[qa, qb]`` and
    the input crop ``[c0, c1)`` that determines them.

    ``c0`` is a multiple of the trunk's stride (so that pooling windows line up), and
    edits of the same width get crops of one width (one compiled shape): a crop that
    would cross an end of the sequence is moved inside it, whose edge is then the
    sequence's own.
    """
    s, lo, hi, length = split.stride, split.lo, split.hi, split.length
    qa = np.maximum(0, -((hi - starts) // s))  # ceil((start - hi) / s)
    qb = np.minimum(n_out - 1, (ends - 1 - lo) // s)
    # the crop of an edit away from the ends: [qa*s + lo, qb*s + hi], start rounded down
    qa_free, qb_free = -((hi - starts) // s), (ends - 1 - lo) // s
    width = qb_free * s + hi + 1 - (qa_free * s + lo) // s * s
    width = np.minimum(width + (-width) % s, length)
    c0 = (np.maximum(0, qa * s + lo) // s) * s
    over = c0 + width > length
    c0[over] = ((length - width[over]) // s) * s  # aligned: such crops end at the sequence end
    c1 = np.where(over, length, np.minimum(length, c0 + width))
    return qa, qb, c0, c1


def predict_edits(
    scorer: Scorer,
    X: np.ndarray,
    seq_index: np.ndarray,
    mutants: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    batch_size: int = 256,
    fast: bool = True,
) -> np.ndarray:
    """Scored outputs ``(B, T)`` of edited sequences, by fast ISM where the model allows.

    ``mutants[b]`` must equal ``X[seq_index[b]]`` outside the intervals
    ``[starts[b, k], ends[b, k])`` (``(B, K)``; empty intervals are padding).  With
    ``fast`` and a convolutional trunk (:func:`conv_split`), only the trunk positions
    those intervals reach are recomputed; otherwise every mutant takes the full pass.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((32, 4)); h = keras.layers.Conv1D(3, 5, padding="same")(inp)
    >>> s = build_scorer(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(h))))
    >>> X = np.eye(4, dtype="float32")[np.arange(32) % 4][None]
    >>> m = X.copy(); m[0, 7] = [0, 0, 0, 1]
    >>> got = predict_edits(s, X, np.array([0]), m, np.array([[7]]), np.array([[8]]))
    >>> bool(np.allclose(got, s.predict(m), atol=1e-5))
    True
    """
    X = np.asarray(X, np.float32)
    mutants = np.asarray(mutants, np.float32)
    seq_index = np.asarray(seq_index, np.int64)
    starts = np.asarray(starts, np.int64).reshape(len(mutants), -1)
    ends = np.asarray(ends, np.int64).reshape(len(mutants), -1)
    length = X.shape[1]
    split = conv_split(scorer, length) if fast else ConvSplit(False)
    if not split.ok or len(mutants) == 0:
        return predict_batched(scorer, mutants, batch_size=batch_size)
    import tensorflow as tf

    bs = max(1, int(batch_size))
    out = np.empty((len(mutants), scorer.n_tasks), np.float32)
    cache: dict[int, Any] = {}  # the trunk output of each original, (1, L', C)
    for sl in batches(len(mutants), bs):
        rows = np.arange(sl.start, sl.stop)
        seqs, local = np.unique(seq_index[rows], return_inverse=True)
        for i in seqs.tolist():  # one original at a time: the same numbers in any chunking
            if i not in cache:
                cache[i] = split.trunk(tf.constant(X[i : i + 1]))
        base = tf.concat([cache[i] for i in seqs.tolist()], axis=0)  # (u, L', C)
        if len(cache) > 2 * bs:
            cache = {i: cache[i] for i in seqs.tolist()}
        dst, vals = _patch_values(split, mutants[rows], starts[rows], ends[rows],
                                  int(base.shape[1]), bs)
        want = max(len(rows), min(bs, MIN_MODEL_BATCH))  # padded rows: an original
        local = np.concatenate([local, np.zeros(want - len(rows), local.dtype)])
        y = split.patched_head(base, tf.constant(local, tf.int32),
                               tf.constant(dst, tf.int32), vals)
        out[sl] = y.numpy()[: len(rows)]
    return out


def _patch_values(split: ConvSplit, mutants: np.ndarray, starts: np.ndarray,
                  ends: np.ndarray, n_out: int, batch_size: int) -> tuple[np.ndarray, Any]:
    """The trunk outputs that the edits change: ``(row, position)`` pairs ``(P, 2)`` and
    their values ``(P, C)`` (a tensor), each pair once."""
    import tensorflow as tf

    job_row, job_k = np.nonzero(ends > starts)
    qa, qb, c0, c1 = _crops(split, starts[job_row, job_k], ends[job_row, job_k], n_out)
    width, s = c1 - c0, split.stride
    dst, vals = [], []
    cone = split.cone
    in_cone = np.zeros(len(qa), bool) if cone is None else (qa >= cone.q_min) & (
        qb <= cone.q_max)
    span = qb - qa + 1
    for sp in np.unique(span[in_cone]):  # the cone of each edit, unpadded
        jobs = np.flatnonzero(in_cone & (span == sp))
        offsets = np.arange(int(sp) + cone.hi_in - cone.lo_in)[None]
        for part in batches(len(jobs), batch_size):
            j = jobs[part]
            crop = mutants[job_row[j][:, None], qa[j][:, None] + cone.lo_in + offsets]
            y = cone.fn(tf.constant(pad_rows(crop, batch_size)), int(sp))[: len(j)]
            q = qa[j][:, None] + np.arange(int(sp))[None]
            dst.append(np.stack([np.repeat(job_row[j], int(sp)), q.ravel()], axis=1))
            vals.append(tf.reshape(y, (-1, y.shape[-1])))
    for w in np.unique(width[~in_cone]):
        jobs = np.flatnonzero(~in_cone & (width == w))
        for part in batches(len(jobs), batch_size):
            j = jobs[part]
            crop = mutants[job_row[j][:, None], c0[j][:, None] + np.arange(w)[None]]
            y = split.trunk(tf.constant(pad_rows(crop, batch_size)))
            span = qb[j] - qa[j] + 1
            ok = np.arange(int(span.max()))[None] < span[:, None]  # (J, K)
            jj, kk = np.nonzero(ok)
            q = qa[j][jj] + kk
            dst.append(np.stack([job_row[j][jj], q], axis=1))
            vals.append(tf.gather_nd(y, np.stack([jj, q - c0[j][jj] // s], axis=1)))
    if not dst:
        return np.zeros((0, 2), np.int64), tf.zeros((0, split.channels), tf.float32)
    dst_all = np.concatenate(dst)
    vals_all = tf.concat(vals, axis=0)
    # a position that two edits of a row reach is written once (the last), deterministically
    key = dst_all[:, 0] * n_out + dst_all[:, 1]
    _, first = np.unique(key[::-1], return_index=True)
    keep = np.sort(len(key) - 1 - first)
    if len(keep) < len(key):
        dst_all, vals_all = dst_all[keep], tf.gather(vals_all, keep)
    return dst_all, vals_all


def ism(scorer: Scorer, X: np.ndarray, *, batch_size: int = 256, fast: bool = True
        ) -> np.ndarray:
    """In-silico mutagenesis importance ``(N, L, 4, T)``.

    ``out[n, l, b, t] = f_t(x_n) - f_t(x_n with position l set to base b)``: positive when
    base ``b`` at ``l`` would lower the output (the observed base is better than ``b``).
    The observed base is not evaluated (its entry is 0 by definition); at ``N``
    positions (all-zero rows) all four bases are.  With ``fast`` (the default),
    convolutional models recompute only the positions each substitution reaches
    (:func:`predict_edits`); the result equals the full forward passes to float32
    round-off.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((3, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> m = keras.Model(inp, out); X = np.eye(4, dtype="float32")[[[0, 1, 2]]]
    >>> s = ism(build_scorer(m), X)[0, :, :, 0]
    >>> w = m.layers[-1].get_weights()[0].reshape(3, 4)
    >>> bool(np.allclose(s, (w * X[0]).sum(1, keepdims=True) - w, atol=1e-5))
    True
    """
    X = np.asarray(X, np.float32)
    n, length, nb = X.shape
    t = scorer.n_tasks
    f0 = predict_batched(scorer, X, batch_size=batch_size)
    eye = np.eye(nb, dtype=np.float32)
    out = np.zeros((n, length, nb, t), np.float32)
    per_batch = max(1, int(batch_size))
    for i in range(n):
        pos, base = np.nonzero(X[i] != 1)  # every base but the observed one
        for lo in range(0, len(pos), per_batch):
            p, b = pos[lo : lo + per_batch], base[lo : lo + per_batch]
            mut = np.repeat(X[i][None], len(p), axis=0)
            mut[np.arange(len(p)), p] = eye[b]
            fm = predict_edits(scorer, X[i : i + 1], np.zeros(len(p), np.int64), mut,
                               p[:, None], p[:, None] + 1, batch_size=per_batch, fast=fast)
            out[i, p, b] = f0[i][None, :] - fm
    return out


@register_method(
    "ism",
    uses_reference=False,
    doc="In-silico mutagenesis: f(x) - f(x with position l set to base b); 0 at the observed "
    "base (not evaluated); fast ISM on convolutional models.",
)
def _ism_kernel(scorer, X, references=None, batch_size=256, **_):
    return ism(scorer, X, batch_size=batch_size)
