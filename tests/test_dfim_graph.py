"""The lazy DFIM graph: nothing computed while it is built; outputs as the registry says."""

from __future__ import annotations

import pytest

import dfimx
from dfimx import variables
from dfimx.dfim import compute_dfim, output_variables
from dfimx.errors import InputError
from dfimx.settings import DEFAULT_METHODS, Settings
from dfimx.testing import raise_if_dask_computes


def test_planning_and_dfim_graph_compute_nothing(oracle_files):
    with raise_if_dask_computes():
        ds = dfimx.from_fasta(oracle_files["fasta"], chunk_size=2)
        for plan in (dfimx.plan_elements(ds, oracle_files["elements"]), dfimx.plan_scan(ds, 3, 9)):
            result = compute_dfim(plan, oracle_files["model"], null_draws=2)
            assert result.interaction_score.chunks[0] == (2, 2, 2)
            assert result.null_interaction_score.shape[-1] == 2
            sub = result.interaction_score.isel(seq=slice(0, 2)).sum()
            assert sub.data is not None


def test_outputs_have_the_registered_dims_dtypes_and_attrs(oracle_files):
    ds = dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"], chunk_size=3),
                             oracle_files["elements"])
    settings = Settings(keep_delta=True, keep_importance=True, null_draws=3)
    result = compute_dfim(ds, oracle_files["model"], settings=settings)
    names = output_variables(settings.validate(), symmetric=True)
    assert set(names) <= set(result.data_vars)
    for name in names:
        spec = variables.SPECS[name]
        assert result[name].dims == spec.dims and result[name].dtype == spec.dtype
        assert result[name].attrs["long_name"] == spec.attrs["long_name"]
    # no method given: the element plan's default, with that method's reference
    assert result.attrs["method"] == DEFAULT_METHODS["elements"] == "deepshap"
    assert result.attrs["reference"] == "dinuc" and result.attrs["mutation"] == "gc"
    assert result.attrs["null_draws"] == 3


def test_an_unplanned_dataset_is_refused(oracle_files):
    ds = dfimx.from_fasta(oracle_files["fasta"])
    with pytest.raises(variables.DatasetValidationError, match="mutation_start"):
        compute_dfim(ds, oracle_files["model"])
    with pytest.raises(InputError, match="unknown method"):
        compute_dfim(ds, oracle_files["model"], method="nope")


def test_ranges_are_refused_before_anything_runs(oracle_files):
    ds = dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"]), oracle_files["elements"])
    with pytest.raises(InputError, match="batch_size must be at least 1, got 0") as err:
        compute_dfim(ds, oracle_files["model"], batch_size=0)
    assert err.value.option == "batch_size"
    with pytest.raises(InputError, match="n_shuffles must be at least 1, got 0"):
        compute_dfim(ds, oracle_files["model"], mutation="shuffle", n_shuffles=0)
