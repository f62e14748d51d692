"""Model calls split over concurrent streams give the numbers of one call, and keep its
diagnostics and errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dfimx.attribution import METHODS, collect_violations, make_references
from dfimx.attribution.streams import call_in_streams, model_streams
from dfimx.errors import InputError
from dfimx.models import build_scorer
from dfimx.testing import block_inputs_of, random_onehot, small_cnn


@pytest.fixture(scope="module")
def scorer():
    return build_scorer(small_cnn(length=30, n_out=2, seed=3))


@pytest.mark.parametrize("method", ["grad_x_input", "deeplift", "deepshap"])
def test_streams_give_the_bits_of_one_call(scorer, method):
    """Pieces of whole batches on two threads: the same float32 bits as one call, with
    per-input references (DeepSHAP) and a last batch shorter than the others."""
    X = random_onehot(75, 30, seed=1).astype(np.float32)
    spec = METHODS[method]
    refs = (make_references(X, "dinuc", n_references=3, seq_ids=[str(i) for i in range(75)],
                            seed=0) if method == "deepshap" else None)

    def call(x, r):
        return spec.with_outputs(scorer, x, references=r, batch_size=16)

    whole = call(X, refs)
    split = call_in_streams(call, X, refs, batch_size=16, streams=2)
    for a, b in zip(split, whole, strict=True):
        np.testing.assert_array_equal(a, b)


def test_violations_recorded_in_the_pool_reach_the_caller(scorer):
    """DeepLIFT's summation-to-delta check runs in the pool's threads; the largest
    violation still reaches the collector the caller opened."""
    X = random_onehot(64, 30, seed=2).astype(np.float32)
    refs = make_references(X, "dinuc", n_references=2, seq_ids=[str(i) for i in range(64)],
                           seed=0)
    kernel = METHODS["deepshap"].kernel
    call = lambda x, r: (kernel(scorer, x, references=r, batch_size=8),)  # noqa: E731
    with collect_violations() as alone:
        call(X, refs)
    with collect_violations() as split:
        call_in_streams(call, X, refs, batch_size=8, streams=2)
    assert np.isfinite(alone.max)
    assert split.max == alone.max


def test_error_in_one_piece_is_raised_to_the_caller():
    def fails_on_second(x, r):
        if x[0] >= 10:
            raise ValueError("bad batch")
        return (x,)

    with pytest.raises(ValueError, match="bad batch"):
        call_in_streams(fails_on_second, np.arange(30), None, batch_size=10, streams=2)


def test_calls_run_concurrently_but_never_above_the_stream_count():
    """Batches run on two threads at once and no more, however many callers submit."""
    running, peak, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(2, timeout=10)

    def slow(x, r):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait()  # passes only when two batches are in flight together
        with lock:
            running[0] -= 1
        return (x,)

    callers = [threading.Thread(target=call_in_streams, args=(slow, np.arange(40), None),
                                kwargs={"batch_size": 10, "streams": 2}) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(timeout=30)
    assert peak[0] == 2


def test_stream_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("DFIMX_MODEL_STREAMS", "3")
    assert model_streams() == 3
    monkeypatch.setenv("DFIMX_MODEL_STREAMS", "zero")
    with pytest.raises(InputError, match="DFIMX_MODEL_STREAMS='zero'"):
        model_streams()


def test_per_base_scan_is_the_same_with_one_or_two_streams(oracle_files, monkeypatch):
    """The whole kernel on a per-base scan: streams change the schedule, not a bit."""
    from dfimx.dfim.kernel import dfim_block
    from dfimx.models import ModelSpec
    from dfimx.plans import plan_scan
    from dfimx.sequences import from_onehot
    from dfimx.settings import Settings

    X = oracle_files["onehot"][:3].astype(np.float32)
    ds = plan_scan(from_onehot(X), 5, 25).compute()
    inputs = block_inputs_of(ds)
    spec = ModelSpec.from_path(oracle_files["model"])
    settings = Settings(method="grad_x_input", null="none").validate()
    out = {}
    for streams in ("1", "2"):
        monkeypatch.setenv("DFIMX_MODEL_STREAMS", streams)
        out[streams] = dfim_block(**inputs, spec=spec, settings=settings, batch_size=16)
    for name in ("interaction_profile", "interaction_score", "mutant_prediction",
                 "prediction"):
        np.testing.assert_array_equal(out["2"][name], out["1"][name], err_msg=name)
