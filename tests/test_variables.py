"""The registry describes every variable dfimx writes, and validates against it."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dfimx import variables
from dfimx.run import run_dfim
from dfimx.store import open_result
from dfimx.variables import DatasetValidationError


@pytest.fixture(scope="module")
def stores(oracle_files, tmp_path_factory):
    """An element store with every optional variable kept, and a per-base scan store."""
    d = tmp_path_factory.mktemp("registry")
    common = dict(method="grad_x_input", null_draws=2, chunk_size=3, progress=False)
    elements = run_dfim(oracle_files["model"], oracle_files["fasta"],
                        elements=oracle_files["elements"], output=str(d / "el.zarr"),
                        keep_delta=True, keep_importance=True, keep_null=True, **common)
    scan = run_dfim(oracle_files["model"], oracle_files["fasta"], scan="10:14",
                    output=str(d / "scan.zarr"), **common)
    return [open_result(elements), open_result(scan)]


def test_every_stored_variable_is_registered_with_its_dims_and_attrs(stores):
    for ds in stores:
        unregistered = sorted(set(ds.variables) - set(variables.SPECS) - set(ds.dims))
        assert unregistered == []
        variables.validate(ds)  # all registered variables present: dims and dtype kinds
        for name in ds.data_vars:
            if variables.SPECS[name].role in ("output", "statistic"):
                assert ds[name].attrs["long_name"] == variables.SPECS[name].attrs["long_name"]


def test_outputs_follow_the_registry(stores):
    ds = stores[0]
    for name in variables.names_with_role("output"):
        if name in ds:
            assert ds[name].dims == variables.SPECS[name].dims
            assert ds[name].dtype == variables.SPECS[name].dtype


def test_validate_names_the_problem():
    ds = xr.Dataset({"seq_id": ("position", np.array(["a"], dtype=object)),
                     "prediction": (("seq", "task"), np.zeros((1, 1), np.int64))})
    with pytest.raises(DatasetValidationError, match=r"x\.zarr: variable 'seq_id' has dims"):
        variables.validate(ds, "seq_id", source="x.zarr")
    with pytest.raises(DatasetValidationError, match="expected kind 'f'"):
        variables.require(ds, "prediction")
    with pytest.raises(DatasetValidationError, match="not a registered"):
        variables.validate(ds, "nonsense")
    with pytest.raises(DatasetValidationError, match="needs 2 dims"):
        variables.create_variable("prediction", np.zeros(3))


def test_string_helpers_round_trip():
    arr = variables.variable_strings(["a", "bb"])
    assert variables.as_str(arr).tolist() == ["a", "bb"]
    assert variables.string_array([1, 2]).dtype == object
