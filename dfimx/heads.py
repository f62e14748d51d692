"""The scored outputs of a model: its heads, their logits, and the tasks chosen from them.

:func:`resolve_heads` finds, for every output of a Keras model, the quantity dfimx
scores: the pre-activation logit of a sigmoid head, the *centred* logit of a softmax head
(the class logit minus the mean logit over classes: it moves with the class's evidence
even where the probability saturates, and is invariant to the shift that softmax
ignores), or the output itself when it is not squashed.  It looks through nested
models, ``Concatenate`` of heads, ``Average`` / ``Add`` of strands (the logits are
averaged / added), ``Activation`` layers and shape-only layers (``Flatten``,
``Reshape``, ``Cropping1D``, ``keras.ops.flip``, ...).  A probability that reaches an
output through anything else (a ``Lambda``, a ``Multiply``, ...) cannot be undone
unambiguously: :func:`resolve_heads` raises :class:`~dfimx.errors.InputError` naming the
layer and the options, and never scores the probability while recording ``logit``.

:func:`select_tasks` turns task requests into the scored columns: a task name or index,
a whole head by name, or a head reduced to one value (``NAME:sum``, ``NAME:mean``,
``NAME:weighted``: the BPNet profile score, the softmax-weighted sum of the profile
logits with the weights held constant).  Without a request every output is a task,
unless there are more than :data:`DEFAULT_MAX_TASKS`: then it raises, listing the heads
and their sizes.

Examples
--------
>>> import keras
>>> inp = keras.Input((8, 4)); h = keras.layers.Flatten()(inp)
>>> m = keras.Model(inp, [keras.layers.Dense(5, name="profile")(h),
...                       keras.layers.Dense(1, name="logcount")(h)])
>>> [(h.name, h.size, h.kind) for h in resolve_heads(m)]
[('profile', 5, 'output'), ('logcount', 1, 'output')]
>>> names, _ = select_tasks(resolve_heads(m), ["profile:weighted", "logcount"])
>>> names
['profile:weighted', 'logcount']
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from dfimx.errors import InputError

#: Default limit on the number of tasks scored when none is requested.
DEFAULT_MAX_TASKS = 200
#: Reductions of a whole head into one task (``--task NAME:reduction``).
HEAD_REDUCTIONS = ("sum", "mean", "weighted")

_SQUASHING = ("sigmoid", "softmax")
#: Layers that only move or copy values: a logit behind them is taken through them.
_SHAPE_LAYERS = ("Flatten", "Reshape", "Permute", "Cropping1D", "Cropping2D", "Dropout",
                 "Identity", "SpatialDropout1D", "GaussianNoise", "GaussianDropout")
_SHAPE_OPS = ("Flip", "Reshape", "Squeeze", "ExpandDims", "Transpose")
#: Merges whose logit is the same merge of the inputs' logits.
_MERGES = ("Concatenate", "Average", "Add")


@dataclass
class Head:
    """One output of a model as scored: ``tensor`` is ``(N, size)`` (flattened)."""

    name: str
    tensor: Any
    size: int
    kind: str  # "logit", "centred_logit" or "output"


_NAMES = itertools.count()


def _new_name(op: Any) -> str:
    """A name for a layer rebuilt from ``op``, unique even when ``op`` is called twice."""
    return f"{op.name}_logit_{next(_NAMES)}"


def _history(t: Any) -> tuple[Any, Any, int]:
    hist = t._keras_history  # noqa: SLF001 - the functional graph's own record
    op = hist.operation
    node = op._inbound_nodes[hist.node_index]  # noqa: SLF001
    return op, node, hist.tensor_index


def _centred(z: Any) -> Any:
    from keras import ops

    return ops.subtract(z, ops.mean(z, axis=-1, keepdims=True))


def activation_name(act: Any) -> str | None:
    """Name of a built-in Keras activation function, ``"linear"`` for None, else None.

    A user function that merely shares a built-in's name gives None.

    Examples
    --------
    >>> import keras
    >>> activation_name(keras.layers.Dense(1, activation="relu").activation)
    'relu'
    >>> activation_name(None), activation_name(lambda v: v * v)
    ('linear', None)
    """
    import keras

    if act is None:
        return "linear"
    name = getattr(act, "__name__", None)
    if name is None or getattr(keras.activations, name, None) is not act:
        return None
    return name


def _activation(op: Any) -> str | None:
    return activation_name(getattr(op, "activation", None))


def _ambiguous(op: Any, why: str) -> InputError:
    return InputError(
        f"cannot find the logit of the model's output: layer {op.name!r} "
        f"({type(op).__name__}) {why}; score the output as it is (output_layer='output', "
        "--output-layer output) or expose the logits as a model output and name it with "
        "--task",
        option="output_layer",
    )


def _clone_stateless(op: Any, inputs: Any) -> Any:
    import keras

    if isinstance(op, keras.layers.Layer):
        config = dict(op.get_config())
        config["name"] = _new_name(op)
        return op.__class__.from_config(config)(inputs)
    return op(inputs)


def logit_of(t: Any) -> tuple[Any, str]:
    """``(tensor, kind)``: the scored quantity behind the symbolic output ``t``.

    ``kind`` is ``"logit"`` (a sigmoid was removed), ``"centred_logit"`` (a softmax was
    removed and its logits centred) or ``"output"`` (nothing to remove).

    Raises
    ------
    InputError
        When a probability reaches ``t`` through a layer the logit cannot be taken through.
    """
    import keras

    op, node, index = _history(t)
    kind = type(op).__name__
    inputs = list(node.input_tensors)
    if isinstance(op, keras.Model):
        inner = op.outputs if isinstance(op.outputs, (list, tuple)) else [op.outputs]
        z, found = logit_of(inner[index])
        if found == "output":
            return t, "output"
        sub = keras.Model(op.inputs, z, name=_new_name(op))
        return sub(inputs[0] if len(inputs) == 1 else inputs), found
    if kind == "InputLayer" or not inputs:
        return t, "output"
    if kind in ("Activation", "Softmax") or (hasattr(op, "activation") and _activation(op)
                                             in _SQUASHING):
        act = "softmax" if kind == "Softmax" else _activation(op)
        if kind == "Softmax" and op.axis not in (-1, len(t.shape) - 1):
            raise _ambiguous(op, f"is a softmax over axis {op.axis}")
        if kind in ("Activation", "Softmax"):
            if act == "linear":
                return logit_of(inputs[0])
            z = inputs[0]
        elif act in _SQUASHING:
            config = dict(op.get_config())
            config["activation"] = "linear"
            config["name"] = _new_name(op)
            clone = op.__class__.from_config(config)
            z = clone(inputs[0])
            clone.set_weights(op.get_weights())
        if act == "sigmoid":
            return z, "logit"
        if act == "softmax":
            return _centred(z), "centred_logit"
        return t, "output"
    if hasattr(op, "activation"):  # a dense or convolution layer without a squashing
        return t, "output"
    if kind in _MERGES:
        parts = [logit_of(x) for x in inputs]
        kinds = {k for _, k in parts}
        if kinds == {"output"}:
            return t, "output"
        if kind != "Concatenate" and "output" in kinds:
            raise _ambiguous(op, "merges a probability with an output that is not one")
        return _clone_stateless(op, [z for z, _ in parts]), "logit" if "logit" in kinds \
            else "centred_logit"
    if kind in _SHAPE_LAYERS or (not isinstance(op, keras.layers.Layer) and kind in _SHAPE_OPS):
        z, found = logit_of(inputs[0])
        return (t, "output") if found == "output" else (_clone_stateless(op, z), found)
    for x in inputs:
        if logit_of(x)[1] != "output":
            raise _ambiguous(op, "transforms a sigmoid/softmax probability")
    return t, "output"


def resolve_heads(model: Any, output_layer: str = "logit") -> list[Head]:
    """The scored heads of ``model``: one :class:`Head` per output, flattened to 2-D.

    With ``output_layer="output"`` the outputs are taken as they are.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((6, 4)); h = keras.layers.Flatten()(inp)
    >>> m = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="cls")(h))
    >>> [(h.name, h.kind) for h in resolve_heads(m)]
    [('cls', 'centred_logit')]
    """
    import keras

    outs = model.outputs if isinstance(model.outputs, (list, tuple)) else [model.outputs]
    heads = []
    for o in outs:
        name = o._keras_history.operation.name  # noqa: SLF001
        z, kind = logit_of(o) if output_layer == "logit" else (o, "output")
        if len(z.shape) > 2:
            z = keras.layers.Flatten(name=f"{name}_flat")(z)
        heads.append(Head(name, z, int(z.shape[-1]), kind))
    return heads


def _task_names(heads: list[Head]) -> list[str]:
    names: list[str] = []
    for h in heads:
        names.extend([h.name] if h.size == 1 else [f"{h.name}_{i}" for i in range(h.size)])
    if len(set(names)) != len(names):
        names = [f"task_{i}" for i in range(len(names))]
    return names


def describe_heads(heads: list[Head]) -> str:
    """``"profile (1000), logcount (1)"``: the heads and their sizes, for messages.

    Examples
    --------
    >>> describe_heads([Head("profile", None, 1000, "output"), Head("n", None, 1, "logit")])
    'profile (1000), n (1)'
    """
    return ", ".join(f"{h.name} ({h.size})" for h in heads)


def _weighted_profile_layer() -> Any:
    import keras

    global _WEIGHTED
    if _WEIGHTED is None:

        class WeightedProfile(keras.layers.Layer):
            """``sum_i w_i z_i`` with ``w = softmax(z)`` held constant (BPNet's profile score)."""

            def call(self, z):
                ops = keras.ops
                w = ops.stop_gradient(ops.softmax(z, axis=-1))
                return ops.sum(w * z, axis=-1, keepdims=True)

        _WEIGHTED = WeightedProfile
    return _WEIGHTED


_WEIGHTED: Any = None


def _reduce(head: Head, reduction: str) -> Any:
    from keras import ops

    if reduction == "sum":
        return ops.sum(head.tensor, axis=-1, keepdims=True)
    if reduction == "mean":
        return ops.mean(head.tensor, axis=-1, keepdims=True)
    return _weighted_profile_layer()(name=f"{head.name}_weighted")(head.tensor)


def select_tasks(heads: list[Head], tasks: list[int | str] | None = None, *,
                 max_tasks: int = DEFAULT_MAX_TASKS) -> tuple[list[str], Any]:
    """``(task names, output tensor (N, T))`` for the requested ``tasks``.

    A request is a task index, a task name (``head`` or ``head_3``), a head name (all
    of its columns) or ``HEAD:REDUCTION`` with a reduction of :data:`HEAD_REDUCTIONS`.

    Raises
    ------
    InputError
        For an unknown task, head or reduction, and when ``tasks`` is empty but the
        model has more than ``max_tasks`` outputs (the message lists the heads).
    """
    from keras import layers, ops

    names = _task_names(heads)
    flat = heads[0].tensor if len(heads) == 1 else layers.Concatenate(axis=-1)(
        [h.tensor for h in heads])
    by_head = {h.name: h for h in heads}
    if not tasks:
        if len(names) > max_tasks:
            example = " ".join(f"--task {h.name}" + (":weighted" if h.size > 1 else "")
                               for h in heads[:2])
            raise InputError(
                f"the model has {len(names)} outputs ({describe_heads(heads)}): more than "
                f"{max_tasks} tasks are not scored by default (each task is a backward "
                f"pass); choose tasks or whole heads with --task NAME or "
                f"--task HEAD:{{{','.join(HEAD_REDUCTIONS)}}}, e.g. {example}",
                option="task")
        return names, flat
    chosen_names: list[str] = []
    pieces: list[Any] = []
    for t in tasks:
        if isinstance(t, str) and ":" in t:
            head_name, reduction = t.rsplit(":", 1)
            if head_name not in by_head:
                raise InputError(f"task {t!r}: no head {head_name!r}; the heads are "
                                 f"{describe_heads(heads)}", option="task")
            if reduction not in HEAD_REDUCTIONS:
                raise InputError(f"task {t!r}: unknown reduction {reduction!r}; choose one of "
                                 f"{list(HEAD_REDUCTIONS)}", option="task")
            pieces.append(_reduce(by_head[head_name], reduction))
            chosen_names.append(t)
            continue
        if isinstance(t, str) and not t.lstrip("-").isdigit():
            if t in names:
                index = [names.index(t)]
            elif t in by_head:
                start = names.index(f"{t}_0") if by_head[t].size > 1 else names.index(t)
                index = list(range(start, start + by_head[t].size))
            else:
                raise InputError(f"task {t!r} not found; the heads are {describe_heads(heads)}"
                                 f" (tasks {names[:6]}{' ...' if len(names) > 6 else ''})",
                                 option="task")
        else:
            i = int(t)
            if not -len(names) <= i < len(names):
                raise InputError(f"task index {i} out of range: the model has {len(names)} "
                                 "tasks", option="task")
            index = [i % len(names)]
        chosen_names.extend(names[i] for i in index)
        pieces.append(("take", index))
    # consecutive column picks become one take; reductions stay separate pieces
    merged: list[Any] = []
    for p in pieces:
        if isinstance(p, tuple) and merged and isinstance(merged[-1], tuple):
            merged[-1] = ("take", merged[-1][1] + p[1])
        else:
            merged.append(p)
    tensors = []
    for p in merged:
        if isinstance(p, tuple):
            idx = p[1]
            tensors.append(flat if idx == list(range(len(names))) else
                           ops.take(flat, idx, axis=-1))
        else:
            tensors.append(p)
    out = tensors[0] if len(tensors) == 1 else layers.Concatenate(axis=-1)(tensors)
    return chosen_names, out


__all__ = ["DEFAULT_MAX_TASKS", "HEAD_REDUCTIONS", "Head", "activation_name", "describe_heads",
           "logit_of",
           "resolve_heads", "select_tasks"]
