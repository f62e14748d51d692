"""Local clusters: loopback, the model loaded once per worker, results as in-process."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dfimx.cluster import available_cores, start_client
from dfimx.store import open_result
from dfimx.tables import to_dataframe


def _assert_same(a, b):
    for name in ("prediction", "interaction_score", "null_interaction_score"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_one_and_two_workers_identical_and_model_loaded_once(
    oracle_cluster, dfim_result, write_threaded, tmp_path,
):
    """The conftest cluster started with one worker, then scaled to two (a new worker loads
    the model too); both runs equal the threaded in-process one."""
    local = tmp_path / "local.zarr"
    write_threaded(dfim_result(), local)
    assert oracle_cluster["address"].startswith("tls://127.0.0.1")
    probes = oracle_cluster["probes"]
    assert len(probes) == 2
    # the scorer the plugin loaded is the one tasks get from the process cache
    assert all(same for same, _ in probes.values())
    assert {threads for _, threads in probes.values()} == {available_cores()}
    assert oracle_cluster["used"] in oracle_cluster["plugin_ids"]
    a = open_result(oracle_cluster["w1"]).load()
    b = open_result(oracle_cluster["w2"]).load()
    _assert_same(a, b)
    _assert_same(a, open_result(local).load())
    pd.testing.assert_frame_equal(to_dataframe(a), to_dataframe(b))


def test_local_cluster_refuses_clients_without_its_credentials():
    """Finding 11b: the local cluster accepted tasks from any local process; it now speaks
    mutual TLS with credentials made for it, on loopback only."""
    import socket
    import ssl

    import pytest
    from distributed import Client

    from dfimx.cluster import local_security

    with start_client(workers=1) as client:
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert client.submit(lambda x: x + 1, 1).result() == 2  # its own client can
        host, port = address.removeprefix("tls://").rsplit(":", 1)
        attempts = {
            "no credentials": dict(address=address),
            "plain tcp": dict(address="tcp://" + address.removeprefix("tls://")),
            "another cluster's credentials": dict(address=address, security=local_security()),
        }
        for what, kwargs in attempts.items():
            # refused on connecting: no TLS context (TypeError), connection reset or
            # certificate mismatch (CommClosedError, an OSError)
            with pytest.raises((OSError, TypeError)):
                other = Client(timeout="5s", **kwargs)
                other.submit(lambda: 1).result(timeout=5)
                pytest.fail(f"{what}: a task was accepted")
        # a TLS client that presents no certificate is cut off during the handshake
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with pytest.raises((ssl.SSLError, OSError)):
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                with ctx.wrap_socket(raw) as tls:
                    tls.sendall(b"\0" * 16)
                    if not tls.recv(100):
                        raise ConnectionResetError("closed by the scheduler")
