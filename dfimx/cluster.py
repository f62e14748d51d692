"""Dask clusters for dfimx: a loopback ``LocalCluster`` or an existing scheduler.

Only this module and the command line start clusters; library functions run on
whatever scheduler is active.  A local cluster listens on 127.0.0.1 only and speaks
mutual TLS with credentials made for it (:func:`local_security`): other processes on the
host cannot connect to it, let alone submit tasks.

Workers run one task thread each; TensorFlow inside a worker gets the cores that worker
has (``cores // workers`` on a local cluster, the process's CPU affinity — what
SLURM/PBS give the job — on a connected one, or ``DFIMX_TF_THREADS``).  Nothing here
hides GPUs: TensorFlow uses the GPU(s) a worker sees; give each worker one GPU with
``CUDA_VISIBLE_DEVICES`` (see the README, "Running dfimx at scale").

Examples
--------
>>> from dfimx.cluster import start_client   # doctest: +SKIP
>>> with start_client(workers=2) as client:   # doctest: +SKIP
...     write_store(result, "out.zarr")
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from dfimx.errors import InputError
from dfimx.models import ModelSpec, file_sha256

PLUGIN_NAME = "dfimx-model"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; what a batch scheduler granted).

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def local_security() -> Any:
    """Fresh mutual-TLS credentials for a local cluster (``distributed``'s ``Security``).

    A self-signed certificate and key made for this cluster, held in memory only (never
    written to disk) and shared with the scheduler, the workers and the client that
    ``start_client`` starts: a process on the same host without them cannot connect.

    Raises
    ------
    InputError
        When the ``cryptography`` package, which makes the certificate, is missing.

    Examples
    --------
    >>> sec = local_security()
    >>> sec.require_encryption, sec.tls_client_cert.startswith("-----BEGIN")
    (True, True)
    """
    from distributed.security import Security

    try:
        return Security.temporary()
    except ImportError as exc:
        raise InputError("a local cluster needs the 'cryptography' package for its TLS "
                         "credentials (pip install cryptography)", option="workers") from exc


def tensorflow_threads_env(n_threads: int) -> dict[str, str]:
    """Environment that caps TensorFlow and OpenMP/BLAS at ``n_threads`` threads.

    Read by TensorFlow when it starts, so it must be in a worker's environment before
    the worker imports TensorFlow (``LocalCluster(env=...)``, a job script, ...).

    Examples
    --------
    >>> tensorflow_threads_env(4)["TF_NUM_INTRAOP_THREADS"]
    '4'
    """
    n = str(max(1, int(n_threads)))
    return {
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": str(min(2, max(1, int(n_threads)))),
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }


def configure_tensorflow_threads(n_threads: int) -> bool:
    """Set TensorFlow's intra/inter-op thread counts; let GPUs allocate memory as needed.

    Returns False when TensorFlow had already started (the counts can then no longer
    change; the environment from :func:`tensorflow_threads_env` applies instead).
    GPUs are never hidden: only memory growth is switched on, so that several worker
    processes can share a GPU.

    Examples
    --------
    >>> configure_tensorflow_threads(1) in (True, False)
    True
    """
    import tensorflow as tf

    ok = True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, int(n_threads)))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, int(n_threads))))
    except RuntimeError:
        ok = False
    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError, ValueError):
            tf.config.experimental.set_memory_growth(gpu, True)
    return ok


class ModelPreloader(WorkerPlugin):
    """Worker plugin that loads the run's model once per worker process.

    Registered with ``Client.register_plugin``; on each worker (including workers that
    join or are restarted later) ``setup`` sets TensorFlow's thread counts, checks that
    the model file there has the run's sha256, and loads it into the process-local
    cache of :mod:`dfimx.models`, which then serves every task of that worker.

    Parameters
    ----------
    spec
        The run's model (path, sha256, output choices).
    threads
        TensorFlow threads per worker; default ``DFIMX_TF_THREADS`` or the worker's cores.

    Examples
    --------
    >>> plugin = ModelPreloader(ModelSpec("m.keras", "0" * 64))
    >>> plugin.name
    'dfimx-model'
    """

    name = PLUGIN_NAME

    def __init__(self, spec: ModelSpec, threads: int | None = None) -> None:
        self.spec = spec
        self.threads = threads
        self.scorer_id: int | None = None
        self.tf_threads: int | None = None

    def setup(self, worker: Any) -> None:  # noqa: D102
        threads = self.threads or int(os.environ.get("DFIMX_TF_THREADS", 0)) or available_cores()
        self.tf_threads = int(threads)
        configure_tensorflow_threads(self.tf_threads)
        if not os.path.exists(self.spec.path):
            raise InputError(f"{self.spec.path}: model file not found on worker "
                             f"{getattr(worker, 'address', '?')} (use a shared filesystem)")
        found = file_sha256(self.spec.path)
        if found != self.spec.sha256:
            raise InputError(f"{self.spec.path}: the model file on worker "
                             f"{getattr(worker, 'address', '?')} differs from the run's model "
                             f"(sha256 {found[:12]}… != {self.spec.sha256[:12]}…)")
        self.scorer_id = id(self.spec.load())

    def teardown(self, worker: Any) -> None:  # noqa: D102
        pass


def register_model(client: Any, spec: ModelSpec, threads: int | None = None) -> None:
    """Preload ``spec`` on every worker of ``client`` (now and on workers that join later).

    Raises
    ------
    InputError
        When a worker cannot load the model (missing file, different file, bad model).

    Examples
    --------
    >>> with start_client(workers=2) as client:             # doctest: +SKIP
    ...     register_model(client, ModelSpec.from_path("m.keras"))
    """
    try:
        client.register_plugin(ModelPreloader(spec, threads), name=PLUGIN_NAME)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure on a worker is a bad model input
        raise InputError(f"{spec.path}: cannot load the model on the workers: "
                         f"{type(exc).__name__}: {exc}") from exc


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
    tf_threads: int | None = None,
) -> Iterator[Any]:
    """Start a loopback ``LocalCluster`` (or connect to ``scheduler``) and yield a Client.

    The Client is the default scheduler inside the ``with`` block, so
    :func:`dfimx.store.write_store` runs its regions on it.  The local cluster binds
    to 127.0.0.1 and uses mutual TLS with credentials of its own (:func:`local_security`),
    so no other process of the host can submit tasks to it.  A connected ``scheduler``
    keeps its own security (dask's ``distributed.comm.tls`` configuration).

    Parameters
    ----------
    workers
        Worker processes of the local cluster (default: the number of cores).
    scheduler
        ``tcp://HOST:PORT`` of an existing scheduler (e.g. started by dask-jobqueue);
        no local cluster is started then.
    threads_per_worker
        Task threads per local worker (1: TensorFlow parallelizes inside a task).
    memory_limit
        Memory limit per local worker (``"auto"`` splits the machine's memory).
    spec
        The run's model: preloaded on every worker by :class:`ModelPreloader`.
    dashboard
        Serve the dashboard (on 127.0.0.1 only) when True.
    quiet
        Only errors from distributed's loggers.
    tf_threads
        TensorFlow threads per worker (default: cores // workers locally, the worker's
        cores on a connected cluster).

    Examples
    --------
    >>> with start_client(workers=1) as client:            # doctest: +SKIP
    ...     client.scheduler_info()["address"].startswith("tls://127.0.0.1")
    True
    """
    from distributed import Client, LocalCluster

    if quiet:
        logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"scheduler {scheduler}: cannot connect: {exc}",
                             option="scheduler") from exc
    else:
        n = workers or available_cores()
        if n < 1:
            raise InputError(f"workers must be at least 1, got {n}", option="workers")
        per_worker = tf_threads or max(1, available_cores() // n)
        tf_threads = per_worker
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            protocol="tls",
            security=local_security(),
            dashboard_address="127.0.0.1:0" if dashboard else None,
            memory_limit=memory_limit,
            silence_logs=logging.ERROR if quiet else logging.WARNING,
            env=tensorflow_threads_env(per_worker),
        )
        client = Client(cluster)
    try:
        if spec is not None:
            register_model(client, spec, tf_threads)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = [
    "ModelPreloader",
    "available_cores",
    "configure_tensorflow_threads",
    "local_security",
    "register_model",
    "start_client",
    "tensorflow_threads_env",
]
