"""The DFIM kernel on numpy arrays: one chunk of sequences in, its scores out.

For each source of each sequence: build the mutant(s), attribute original and mutants
with the run's method, take the delta profile (original - mutant, masked inside the
source), reduce it over each target, and repeat for the null: on shuffled sequences
(``dinuc``, ``shuffle``) or, for ``context``, with distance-matched decoy sources in the
real sequence (:mod:`dfimx.dfim.context`) against the original's attributions, computed
once.  The lazy, labeled layer around it is :mod:`dfimx.dfim.graph`.

Examples
--------
>>> from dfimx.testing import toy_model_spec                       # doctest: +SKIP
>>> out = dfim_block(onehot, ids, ..., spec=toy_model_spec(), settings=Settings())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dfimx.attribution import (
    METHODS,
    attribute_and_predict,
    collect_violations,
    make_references,
    predict_batched,
)
from dfimx.attribution.registry import base_sums
from dfimx.attribution.streams import StreamCall, submit_in_streams
from dfimx.dfim import maps
from dfimx.dfim.context import decoy_sources
from dfimx.dfim.epistasis import double_mutant_epistasis
from dfimx.dfim.null import null_sequences, source_positions
from dfimx.errors import InputError
from dfimx.models import ModelSpec
from dfimx.mutants import make_mutants, n_draws
from dfimx.settings import Settings


def _references(X: np.ndarray, seq_ids: list[str], settings: Settings, uses: bool):
    if not uses:
        return None
    return make_references(
        X, settings.reference, gc=settings.gc, n_references=settings.n_references,
        seq_ids=seq_ids, seed=settings.seed,
    )


#: Sources a sequence needs for its mutants' attributions to come from its own forward
#: pass (:mod:`dfimx.attribution.edits`): with fewer, the extra pass of the original costs
#: about what its mutants save (element plans of 2-4 sources per sequence ran 0.5x).
MIN_EDITS_PER_SEQUENCE = 16

#: Bytes the arrays of one group of sources may take (inputs, references, attributions).
GROUP_BUDGET = 256 << 20


def _group_size(n_draw: int, n_ref: int, length: int, batch_size: int, n_tasks: int = 1
                ) -> int:
    """Sources attributed together: at most ``4 * batch_size``, and few enough that the
    group's arrays fit :data:`GROUP_BUDGET`.

    Per source: the original's rows, the ``n_draw`` mutants, their references and their
    attributions ``(L, 4, T)`` (float32), and three ``(L, T)`` sums.

    Examples
    --------
    >>> _group_size(1, 0, 200, 256), _group_size(1, 0, 20_000, 256)
    (1024, 223)
    """
    per_row = length * 16 * (1 + n_draw * (1 + n_ref + n_tasks)) + length * n_tasks * 12
    return int(max(1, min(batch_size * 4, GROUP_BUDGET // max(1, per_row))))


def dfim_block(
    onehot: np.ndarray,
    seq_ids: np.ndarray,
    mut_start: np.ndarray,
    mut_end: np.ndarray,
    mut_alt: np.ndarray,
    mut_mask: np.ndarray,
    resp_start: np.ndarray,
    resp_end: np.ndarray,
    resp_mask: np.ndarray,
    pair_mask: np.ndarray | None,
    *,
    spec: ModelSpec,
    settings: Settings,
    batch_size: int = 256,
    symmetric: bool = False,
) -> dict[str, np.ndarray]:
    """DFIM for one chunk of sequences (numpy in, numpy out).

    Returns a dict with ``prediction`` (n, T), ``mutant_prediction`` (n, M, T),
    ``interaction_profile`` (n, M, L, T), ``interaction_score`` (n, M, R, T) and, as
    requested, ``seq_importance``, ``delta`` and ``null_interaction_score``
    (n, M, R, T, K); with ``symmetric``, also ``symmetric_score`` (and
    ``null_symmetric_score`` with a null), the mean of both directions of each pair.
    """
    scorer, method = spec.load(), METHODS[settings.method]
    X = np.asarray(onehot, np.float32)
    ids = [str(s) for s in seq_ids]
    # (n, M, R) pairs to score, built in place (one byte per pair)
    valid = np.logical_not(maps.overlaps(mut_start, mut_end, resp_start, resp_end))
    valid &= mut_mask[:, :, None]
    valid &= resp_mask[:, None, :]
    if pair_mask is not None:
        valid &= pair_mask
    out = _dfim_arrays(
        X, ids, mut_start, mut_end, mut_alt, mut_mask, resp_start, resp_end, valid,
        scorer=scorer, method=method, settings=settings, batch_size=batch_size, full=True,
    )
    original = out.pop("original", None)
    if settings.null == "context":  # decoy sources in the real sequence (dfimx.dfim.context)
        shape = mut_mask.shape + (settings.null_draws,)
        null = np.empty(out["interaction_score"].shape + (settings.null_draws,), np.float32)
        dec_start, dec_end = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        widened = np.full(mut_mask.shape, -1, np.int8)
        for k in range(settings.null_draws):
            dec = decoy_sources(X, ids, mut_start, mut_end, mut_alt, mut_mask, resp_start,
                                resp_end, resp_mask, valid, k, seed=settings.seed)
            # each decoy is scored on every target its source is tested on
            res = _dfim_arrays(
                X, ids, dec["start"], dec["end"], dec["alt"], dec["mask"], resp_start,
                resp_end, valid & dec["mask"][:, :, None], scorer=scorer, method=method,
                settings=settings, batch_size=batch_size, full=False, original=original,
            )
            null[..., k] = res.pop("interaction_score")
            dec_start[..., k], dec_end[..., k] = dec["start"], dec["end"]
            widened = np.maximum(widened, dec["widened"])
        out.update(null_interaction_score=null, null_decoy_start=dec_start,
                   null_decoy_end=dec_end, null_decoy_widening=widened.astype(np.int64))
    elif settings.null != "none":
        kept = source_positions(mut_start, mut_end, mut_mask, X.shape[1])
        shuffled = null_sequences(X, settings.null_draws, ids, settings, kept=kept)
        null = np.empty(out["interaction_score"].shape + (settings.null_draws,), np.float32)
        for k in range(settings.null_draws):
            null_ids = [f"{s}#null{k}" for s in ids]
            res = _dfim_arrays(
                np.asarray(shuffled[:, k], np.float32), null_ids, mut_start, mut_end, mut_alt,
                mut_mask, resp_start, resp_end, valid, scorer=scorer, method=method,
                settings=settings, batch_size=batch_size, full=False,
            )
            null[..., k] = res.pop("interaction_score")
        out["null_interaction_score"] = null
    if symmetric:
        rev = maps.reverse_pairs(mut_start, mut_end, mut_mask, resp_start, resp_end, resp_mask)
        out["symmetric_score"] = maps.symmetric_scores(out["interaction_score"], *rev)
        if "null_interaction_score" in out:
            out["null_symmetric_score"] = maps.symmetric_scores(
                out["null_interaction_score"], *rev)
    return out


def _dfim_arrays(
    X, ids, mut_start, mut_end, mut_alt, mut_mask, resp_start, resp_end, valid, *,
    scorer, method, settings: Settings, batch_size: int, full: bool, original=None,
) -> dict[str, np.ndarray]:
    n, length, _ = X.shape
    m, r, t = mut_start.shape[1], resp_start.shape[1], scorer.n_tasks
    if method.name == "ism" and not (mut_alt[mut_mask] >= 0).any():
        return _element_epistasis(X, mut_start, mut_end, mut_mask, resp_start, resp_end, valid,
                                  scorer=scorer, settings=settings, batch_size=batch_size,
                                  full=full)
    opts = dict(settings.method_options)
    refs = _references(X, ids, settings, method.uses_reference)

    # the batches of each model call run on the process's model streams (concurrent
    # calls fill the cores one call leaves idle; dfimx.attribution.streams)
    streams = None if method.concurrent else 1

    def attribute(inputs, references):  # -> StreamCall of (importance, outputs)
        def call(x, r):
            if full:  # the scored outputs come from the attribution's own forward pass
                return attribute_and_predict(method.name, scorer, x, references=r,
                                             batch_size=batch_size, **opts)
            return method.kernel(scorer, x, references=r, batch_size=batch_size, **opts), None

        return submit_in_streams(call, inputs, references, batch_size=batch_size,
                                 streams=streams)

    # the `sum` score and the profile need only Δ summed over bases, the difference of
    # the two sums: the (B, L, 4, T) delta is formed only when stored or scored per base
    per_base = settings.score != "sum" or (full and settings.keep_delta)
    kd = n_draws(settings.mutation, settings.n_shuffles)
    # one mutant per source: the sums over bases are all that is needed of its
    # attributions, taken inside the model's compiled function where the method can
    summed = not per_base and kd == 1

    def attribute_sums(inputs, references):  # -> StreamCall of (signed, absolute, outputs)
        if method.position_sums is None:
            return attribute(inputs, references).then(
                lambda out: (*base_sums(out[0]), out[1]))
        return submit_in_streams(
            lambda x, r: method.position_sums(scorer, x, references=r,
                                              batch_size=batch_size, **opts),
            inputs, references, batch_size=batch_size, streams=streams)

    # the mutants' sums from their originals' forward pass where the method can
    # (dfimx.attribution.edits): one mutant per source, no reference or one for all
    shared_ref = refs is not None and refs.strides[0] == 0 and refs.shape[1] == 1
    from_edits = summed and method.edit_sums is not None and (refs is None or shared_ref)
    ref_row = refs[0, 0] if shared_ref else None
    # only sequences with enough sources amortise their original's own forward pass (a
    # per-base scan: 3 per position); the others' mutants take full passes.  Decided per
    # sequence, so a row takes the same route in any chunking.
    patched_seq = mut_mask.sum(axis=1) >= MIN_EDITS_PER_SEQUENCE

    def edit_sums(mutants, edits):  # -> StreamCall like attribute_sums, from the originals
        return submit_in_streams(
            lambda x, e: method.edit_sums(scorer, X, e, x, reference=ref_row,
                                          batch_size=batch_size, **opts),
            mutants, edits, batch_size=batch_size, streams=streams)

    # original given: the original's attributions of this run, reused (context null)
    if original is not None:
        first = StreamCall(value=(original["importance"], original["sum"], original["abs"], None))
    elif summed and not (full and settings.keep_importance):
        first = attribute_sums(X, refs).then(lambda out: (None, *out))
    else:
        first = attribute(X, refs).then(lambda out: (out[0], *base_sums(out[0]), out[1]))
    seq_idx, mut_idx = np.nonzero(mut_mask)
    n_ref = 0 if refs is None else refs.shape[1]
    group = _group_size(kd, n_ref, length, batch_size, t)
    # the same targets in every sequence (a per-base scan): one broadcast row, no gathers
    shared = n > 1 and (resp_start == resp_start[:1]).all() and (resp_end == resp_end[:1]).all()

    def launch(lo: int) -> tuple[np.ndarray, np.ndarray, Any, StreamCall]:
        """Build a group's mutants and submit their model call (it runs while the
        previous group is reduced)."""
        si, mi = seq_idx[lo : lo + group], mut_idx[lo : lo + group]
        patched = patched_seq[si] if from_edits else np.zeros(len(si), bool)
        if patched.any() and not patched.all():  # patched rows first, sequences kept whole
            order = np.argsort(~patched, kind="stable")
            si, mi, patched = si[order], mi[order], patched[order]
        # mutants edited in place in the group's own copy of its originals
        mutants = make_mutants(
            X[si], mut_start[si, mi], mut_end[si, mi], mut_alt[si, mi], mode=settings.mutation,
            gc=settings.gc, n_shuffles=settings.n_shuffles, seq_ids=[ids[i] for i in si],
            seed=settings.seed, copy=False,
        )
        flat = mutants.reshape((-1, length, 4))
        if refs is None:
            mrefs = None
        elif refs.strides[0] == 0:  # one reference for all (zeros, gc): a view, no copy
            mrefs = np.broadcast_to(refs[:1], (len(si) * kd,) + refs.shape[1:])
        else:
            mrefs = np.repeat(refs[si], kd, axis=0)
        # (sequence, source) rows of the outputs, flattened: a group of consecutive rows
        # is read and written as a slice instead of a gather/scatter
        rows_of = _row_slice(si * m + mi)
        k = int(patched.sum())
        if k:
            edits = np.stack([si[:k], mut_start[si[:k], mi[:k]], mut_end[si[:k], mi[:k]]], 1)
            call = edit_sums(flat[:k], edits)
            if k == len(si):
                return si, mi, rows_of, call
            rest = attribute_sums(flat[k:], None if mrefs is None else mrefs[k:])
            return si, mi, rows_of, _Joined([call, rest])
        return si, mi, rows_of, (attribute_sums if summed else attribute)(flat, mrefs)

    starts_of_groups = list(range(0, len(seq_idx), group))
    pending = launch(starts_of_groups[0]) if starts_of_groups else None
    try:
        imp0, sum0, abs0, pred0 = first.result()  # (n, L, T) sums shared by its sources
    except BaseException:
        if pending is not None:
            pending[3].cancel()
        raise
    scores = np.full((n, m, r, t), np.nan, np.float32)
    out: dict[str, np.ndarray] = {"interaction_score": scores}
    if full:
        out["prediction"] = pred0
        out["original"] = {"importance": imp0, "sum": sum0, "abs": abs0}
        out["mutant_prediction"] = np.full((n, m, t), np.nan, np.float32)
        out["interaction_profile"] = np.full((n, m, length, t), np.nan, np.float32)
        if settings.keep_importance:
            out["seq_importance"] = imp0.astype(np.float32)
        if settings.keep_delta:
            out["delta"] = np.full((n, m, length, 4, t), np.nan, np.float32)
    for g in range(len(starts_of_groups)):
        si, mi, rows_of, call = pending
        try:
            pending = (launch(starts_of_groups[g + 1]) if g + 1 < len(starts_of_groups)
                       else None)
            result = call.result()
        except BaseException:
            call.cancel()
            if pending is not None and pending[3] is not call:
                pending[3].cancel()
            raise
        at = (si, mi) if rows_of is None else rows_of
        starts, ends = mut_start[si, mi], mut_end[si, mi]
        if shared:
            group_rs = np.broadcast_to(resp_start[0], (len(si), r))
            group_re = np.broadcast_to(resp_end[0], (len(si), r))
        else:
            group_rs, group_re = resp_start[si], resp_end[si]
        if summed:
            signed, mutant_abs, pred = result
            imp = None
        else:
            imp, pred = result
            imp = imp.reshape((len(si), kd) + imp.shape[1:])
            imp = imp[:, 0] if kd == 1 else imp.mean(axis=1)
            if per_base:
                mutant_abs = maps.sum_over_bases(imp, absolute=True)
            else:
                signed, mutant_abs = base_sums(imp)
        del result
        runs = _runs(si)
        # the magnitudes a score is a difference of, for the round-off tolerance
        for s_, rows in runs:
            np.add(abs0[s_], mutant_abs[rows], out=mutant_abs[rows])
        if per_base:
            # delta = imp0 - imp, in place: the original's rows are broadcast, never copied
            for s_, rows in runs:
                np.subtract(imp0[s_], imp[rows], out=imp[rows])
            delta = maps.mask_source(imp, starts, ends)
            signed = maps.sum_over_bases(delta)  # (B, L, T): the profile
            values = signed if settings.score == "sum" else maps.position_values(
                delta, settings.score)
        else:
            delta = imp = None
            for s_, rows in runs:  # Δ summed over bases = sum0 - sum(mutant), in place
                np.subtract(sum0[s_], signed[rows], out=signed[rows])
            values = maps.mask_source(signed, starts, ends)
        sc = maps.interval_scores(values, group_rs, group_re, settings.score)
        del values
        scale = maps.interval_scores(mutant_abs, group_rs, group_re, "abs_sum")
        del mutant_abs
        sc = maps.zero_round_off(sc, scale)
        sc[~_get(valid, at)] = np.nan
        _put(scores, at, sc)
        if full:
            _put(out["mutant_prediction"], at,
                 pred if kd == 1 else pred.reshape(len(si), kd, t).mean(axis=1))
            _put(out["interaction_profile"], at, maps.profile_from_sums(signed, starts, ends))
            if delta is not None and settings.keep_delta:
                _put(out["delta"], at, delta)
    return out


class _Joined:
    """Model calls over consecutive pieces of one group's rows, joined in order."""

    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls

    def result(self) -> tuple[np.ndarray | None, ...]:
        parts = [c.result() for c in self.calls]
        # an output one of the calls does not give (the outputs of a null pass) is None
        return tuple(None if any(a is None for a in p) else np.concatenate(p)
                     for p in zip(*parts, strict=True))

    def cancel(self) -> None:
        for c in self.calls:
            c.cancel()


def _row_slice(flat: np.ndarray) -> slice | None:
    """``slice(a, b)`` when the flattened rows ``flat`` are ``a, a + 1, ..., b - 1``.

    Examples
    --------
    >>> _row_slice(np.array([3, 4, 5])), _row_slice(np.array([3, 5]))
    (slice(3, 6, None), None)
    """
    if len(flat) == 0 or flat[-1] - flat[0] != len(flat) - 1:
        return None
    return slice(int(flat[0]), int(flat[-1]) + 1)


def _get(a: np.ndarray, at: slice | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Rows ``at`` of an ``(n, M, ...)`` array: a view of its flattened rows for a slice,
    else a gather by ``(seq, source)`` indices."""
    return a.reshape((-1,) + a.shape[2:])[at] if isinstance(at, slice) else a[at]


def _put(a: np.ndarray, at: slice | tuple[np.ndarray, np.ndarray], value: np.ndarray) -> None:
    """``a[at] = value`` for :func:`_get`'s rows (a slice assignment where it can)."""
    if isinstance(at, slice):
        a.reshape((-1,) + a.shape[2:])[at] = value
    else:
        a[at] = value


def _runs(index: np.ndarray) -> list[tuple[int, slice]]:
    """``(value, slice)`` of each run of equal values in ``index`` (sorted sequence rows).

    Examples
    --------
    >>> _runs(np.array([0, 0, 2, 2, 2, 5]))
    [(0, slice(0, 2, None)), (2, slice(2, 5, None)), (5, slice(5, 6, None))]
    """
    if len(index) == 0:
        return []
    cuts = np.flatnonzero(np.diff(index)) + 1
    bounds = [0, *cuts.tolist(), len(index)]
    return [(int(index[a]), slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _element_epistasis(
    X, mut_start, mut_end, mut_mask, resp_start, resp_end, valid, *,
    scorer, settings: Settings, batch_size: int, full: bool,
) -> dict[str, np.ndarray]:
    """``--method ism`` on element plans: exact double-mutant epistasis as the score.

    ``f(x) - f(x-a) - f(x-b) + f(x-a-b)`` with the run's replacement (zeros or gc); there
    is no attribution, so ``interaction_profile`` stays NaN.
    """
    if settings.mutation == "shuffle":
        raise InputError("method 'ism' on elements supports mutation 'zeros' or 'gc', "
                         "not 'shuffle'", option="mutation")
    n, length, _ = X.shape
    m, t = mut_start.shape[1], scorer.n_tasks
    scores = double_mutant_epistasis(
        scorer, X, mut_start, mut_end, resp_start, resp_end, source_mask=mut_mask,
        target_mask=_targets_in_use(valid), replacement=settings.mutation, gc=settings.gc,
        batch_size=batch_size,
    ).astype(np.float32)
    f0 = np.abs(predict_batched(scorer, X, batch_size=batch_size))  # (n, T)
    scores = maps.zero_round_off(scores, 4.0 * f0[:, None, None, :] + np.abs(scores))
    scores[~valid] = np.nan
    out: dict[str, np.ndarray] = {"interaction_score": scores}
    if full:
        out["prediction"] = predict_batched(scorer, X, batch_size=batch_size)
        si, mi = np.nonzero(mut_mask)
        mutants = make_mutants(X[si], mut_start[si, mi], mut_end[si, mi], np.full(len(si), -1),
                               mode=settings.mutation, gc=settings.gc)[:, 0]
        mp = np.full((n, m, t), np.nan, np.float32)
        mp[si, mi] = predict_batched(scorer, mutants, batch_size=batch_size)
        out["mutant_prediction"] = mp
        out["interaction_profile"] = np.full((n, m, length, t), np.nan, np.float32)
        if settings.keep_importance:
            out["seq_importance"] = np.full((n, length, 4, t), np.nan, np.float32)
        if settings.keep_delta:
            out["delta"] = np.full((n, m, length, 4, t), np.nan, np.float32)
    return out


def _targets_in_use(valid: np.ndarray) -> np.ndarray:
    """Targets that take part in at least one valid pair, ``(n, R)``."""
    return valid.any(axis=1)


#: Methods whose attributions obey summation-to-delta (or completeness): their runs
#: store ``summation_delta``.
SUMMATION_METHODS = ("deeplift", "deepshap", "integrated_gradients")


def dfim_block_with_violations(*args, **kwargs) -> dict[str, np.ndarray]:
    """:func:`dfim_block`, plus ``summation_delta`` (n,): the largest relative violation
    of summation-to-delta among the chunk's attribution calls (for
    :data:`SUMMATION_METHODS`)."""
    with collect_violations() as violations:
        out = dfim_block(*args, **kwargs)
    if kwargs["settings"].method in SUMMATION_METHODS:
        out["summation_delta"] = np.full(len(args[0]), violations.max, np.float32)
    return out


__all__ = ["SUMMATION_METHODS", "dfim_block", "dfim_block_with_violations"]
