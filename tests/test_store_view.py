"""How a reopened store looks: attrs on every variable, ``seq_id`` index, consolidated
metadata that ``xr.open_zarr`` reads without a warning, a stable order, no bookkeeping."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from dfimx.store import add_variables, open_result, remove_variables, write_store
from dfimx.store.view import registry_order
from dfimx.testing import example_result, example_store
from dfimx.variables import SPECS


@pytest.fixture(scope="module")
def store():
    return example_store(n_seq=6, chunk=4)


def _consolidated(path) -> dict:
    meta = json.loads((Path(path) / "zarr.json").read_text())
    return (meta.get("consolidated_metadata") or {}).get("metadata") or {}


def test_every_variable_has_long_name_and_description(store):
    ds = open_result(store)
    missing = [n for n, v in ds.variables.items()
               if not v.attrs.get("long_name") or not v.attrs.get("description")]
    assert missing == []
    # and so does the store itself, for readers that do not go through dfimx
    raw = xr.open_zarr(store)
    assert all(raw[n].attrs.get("description") for n in raw.variables
               if n in SPECS or n in ("task", "base"))
    assert raw["mutation_start"].attrs["units"] == "bp (0-based)"


def test_sel_by_seq_id_on_a_reopened_store(store):
    ds = open_result(store)
    ids = ds["seq_id"].values.tolist()
    one = ds.sel(seq_id=ids[3])
    assert one.sizes.get("seq") is None  # a scalar selection drops the dim
    np.testing.assert_array_equal(one["interaction_score"].values,
                                  ds["interaction_score"].values[3])
    two = ds.sel(seq_id=[ids[4], ids[1]])
    assert two["seq_id"].values.tolist() == [ids[4], ids[1]]


def test_open_zarr_gives_no_warning_and_sees_every_variable(store):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = xr.open_zarr(store)
    assert set(_consolidated(store)) >= set(raw.data_vars)
    assert set(raw.variables) == set(open_result(store).variables) | {"region_complete"}


def test_order_and_bookkeeping(store):
    ds = open_result(store)
    assert list(ds.data_vars) == registry_order(ds.data_vars)
    assert "region_complete" not in ds and "region" not in ds.dims
    assert list(ds.data_vars)[:2] == ["seq_onehot", "mutation_start"]


def test_consolidated_metadata_follows_added_and_removed_variables(tmp_path):
    path = example_store(n_seq=4, chunk=2)
    ds = open_result(path)
    extra = (ds["interaction_score"] * 2).rename("interaction_p_value").to_dataset()
    remove_variables(path, ["interaction_p_value"])
    assert "interaction_p_value" not in _consolidated(path)
    add_variables(path, extra)
    assert "interaction_p_value" in _consolidated(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = xr.open_zarr(path)
    np.testing.assert_allclose(raw["interaction_p_value"].values,
                               2 * ds["interaction_score"].values)


def test_resume_keeps_the_consolidated_metadata_true(tmp_path):
    result = example_result(n_seq=6).chunk({"seq": 3})
    path = str(tmp_path / "r.zarr")
    write_store(result, path, progress=False)
    group = zarr.open_group(path, mode="r+")
    group["region_complete"][1] = False  # as if the last region had not been written
    assert json.loads((Path(path) / "zarr.json").read_text())["attributes"]["dfimx_complete"]
    write_store(result, path, resume=True, progress=False)
    held = set(zarr.open_group(path, mode="r", use_consolidated=False).array_keys())
    assert held <= set(_consolidated(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = xr.open_zarr(path)
    assert raw.attrs["dfimx_complete"] is True
    assert open_result(path, verify=True).sizes["seq"] == 6
