"""Dask clusters for dfimx: a loopback ``LocalCluster`` or an existing scheduler.

Only this module and the command line start clusters; library functions run on
whatever scheduler is active.

Examples
--------
>>> from dfimx.cluster import start_client   # doctest: +SKIP
>>> with start_client(workers=2) as client:   # doctest: +SKIP
...     write_store(result, "out.zarr")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from dfimx.models import ModelSpec


def configure_tensorflow_threads(n_threads: int) -> None:
    """Set TensorFlow's intra/inter-op thread counts (only possible before TF starts work)."""
    import tensorflow as tf

    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(max(1, n_threads))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, n_threads)))


class ModelPreloader:
    """Worker plugin that loads the run's model once per worker process.

    Registered with ``Client.register_plugin``; the process-local cache in
    :mod:`dfimx.models` then serves every task of that worker.
    """

    name = "dfimx-model"

    def __init__(self, spec: ModelSpec, threads: int | None = None) -> None:
        self.spec = spec
        self.threads = threads

    def setup(self, worker: Any) -> None:  # noqa: D102
        threads = self.threads or getattr(worker.state, "nthreads", None) or 1
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
        configure_tensorflow_threads(int(threads))
        self.spec.load()

    def teardown(self, worker: Any) -> None:  # noqa: D102
        pass


def _worker_plugin_class():
    from distributed import WorkerPlugin

    class _Plugin(ModelPreloader, WorkerPlugin):
        pass

    return _Plugin


@contextlib.contextmanager
def start_client(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | None = "auto",
    spec: ModelSpec | None = None,
    dashboard: bool = False,
    quiet: bool = True,
) -> Iterator[Any]:
    """Start a loopback ``LocalCluster`` (or connect to ``scheduler``) and yield a Client.

    Parameters
    ----------
    workers
        Worker processes of the local cluster (default: the number of cores).
    scheduler
        ``tcp://HOST:PORT`` of an existing scheduler (e.g. started by dask-jobqueue);
        no local cluster is started then.
    spec
        The run's model: preloaded on every worker by :class:`ModelPreloader`.
    dashboard
        Serve the dashboard (on 127.0.0.1 only) when True.
    """
    import logging

    from distributed import Client, LocalCluster

    if quiet:
        logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        n = workers or max(1, os.cpu_count() or 1)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0" if dashboard else None,
            memory_limit=memory_limit,
            silence_logs=logging.ERROR if quiet else logging.WARNING,
            env={"TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": str(threads_per_worker)},
        )
        client = Client(cluster)
    try:
        if spec is not None:
            client.register_plugin(_worker_plugin_class()(spec, threads_per_worker))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
