"""Local clusters: loopback, the model loaded once per worker, results as in-process."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dfimx.cluster import PLUGIN_NAME, available_cores, start_client
from dfimx.models import ModelSpec, load_scorer
from dfimx.store import open_result, write_store
from dfimx.tables import to_dataframe


def _assert_same(a, b):
    for name in ("prediction", "interaction_score", "null_interaction_score"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_one_and_two_workers_identical_and_model_loaded_once(
    oracle_files, dfim_result, write_threaded, tmp_path,
):
    spec = ModelSpec.from_path(oracle_files["model"])
    local = tmp_path / "local.zarr"
    write_threaded(dfim_result(), local)
    with start_client(workers=1, spec=spec) as client:
        assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1")
        write_store(dfim_result(), tmp_path / "w1.zarr", progress=False)
        client.cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        write_store(dfim_result(), tmp_path / "w2.zarr", progress=False)

        def probe(dask_worker):
            plugin = dask_worker.plugins[PLUGIN_NAME]
            return plugin.scorer_id == id(load_scorer(spec)), plugin.tf_threads

        probes = client.run(probe)
        assert len(probes) == 2
        # the scorer the plugin loaded is the one tasks get from the process cache
        assert all(same for same, _ in probes.values())
        assert {threads for _, threads in probes.values()} == {available_cores()}
        used = client.submit(lambda: id(load_scorer(spec)), pure=False).result()
        assert used in {
            v for v in client.run(lambda dask_worker: dask_worker.plugins[PLUGIN_NAME]
                                  .scorer_id).values()}
    a = open_result(tmp_path / "w1.zarr").load()
    b = open_result(tmp_path / "w2.zarr").load()
    _assert_same(a, b)
    _assert_same(a, open_result(local).load())
    pd.testing.assert_frame_equal(to_dataframe(a), to_dataframe(b))
