"""Tests of dfimx.plot.select: opening stores, and selections that bound the reads."""

from __future__ import annotations

import time

import dask.array as da
import pytest
import xarray as xr

from dfimx import plot
from dfimx.errors import InputError
from dfimx.testing import example_result, write_example_store


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> xr.Dataset:
    """10^4 sequences in chunks of 500, with Δ (20 copies of 500 sequences' Δ)."""
    ds = example_result(10_000, length=120, n_tasks=1, n_null=2, keep_delta=False, seed=3)
    ds = ds.drop_vars("null_interaction_score")
    small = example_result(500, length=120, n_tasks=1, n_null=1, seed=4)
    ds["delta"] = xr.concat([small["delta"]] * 20, dim="seq")
    return write_example_store(ds, tmp_path_factory.mktemp("plot") / "big.zarr", chunk=500)


def counted(ds: xr.Dataset) -> tuple[xr.Dataset, list[tuple[str, tuple[int, ...]]]]:
    """Wrap every dask-backed variable so that each chunk computed is recorded."""
    reads: list[tuple[str, tuple[int, ...]]] = []
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if var.chunks is None:
            continue

        def record(block, block_info=None, name=name):
            reads.append((name, tuple(block_info[0]["chunk-location"])))
            return block

        out[name] = var.copy(data=da.map_blocks(record, var.data, dtype=var.dtype,
                                                meta=var.data._meta))
    return out, reads


def test_open_dataset(tmp_path):
    path = tmp_path / "run.zarr"
    write_example_store(example_result(8), path, chunk=4)
    ds = plot.open_dataset(path)
    assert ds["interaction_score"].chunks[0] == (4, 4)
    assert plot.open_dataset(ds) is ds
    with pytest.raises(InputError, match="store not found"):
        plot.open_dataset(tmp_path / "missing.zarr")


def test_selection_reads_only_the_needed_chunks(big_store):
    ds, reads = counted(big_store)
    seq = 7_321
    chunk = seq // 500
    timings = {}
    for name, fn in [
        ("element_map", lambda: plot.element_map(ds, seq)),
        ("delta_tracks", lambda: plot.delta_tracks(ds, seq, 0)),
        ("per_base_map", lambda: plot.per_base_map(ds, seq, selector=False,
                                                   variable="interaction_profile")),
    ]:
        reads.clear()
        t0 = time.perf_counter()
        assert plot.to_bokeh(fn()) is not None
        timings[name] = time.perf_counter() - t0
        assert reads, name
        seq_chunks = {loc[0] for var, loc in reads if var != "seq_id"}
        assert seq_chunks == {chunk}, (name, seq_chunks)
        assert len(reads) < 40, (name, len(reads))
        if name == "delta_tracks":
            assert {var for var, _ in reads} >= {"delta", "seq_importance"}
    assert all(t < 10 for t in timings.values()), timings


def test_run_wide_views_on_big_store(big_store):
    t0 = time.perf_counter()
    assert plot.to_bokeh(plot.interaction_summary(big_store)) is not None
    assert plot.to_bokeh(plot.qq_plot(big_store)) is not None
    assert time.perf_counter() - t0 < 30
