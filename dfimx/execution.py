"""Where a local run executes: in this process (threads) or in worker processes.

``workers="auto"`` (the default of ``run_dfim``, ``scan_variants`` and the command line)
decides from the run's attribution work and the machine's cores (:func:`local_workers`).

Examples
--------
>>> local_workers("auto", 1e7, cores=2)
0
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only
    import xarray as xr

    from dfimx.settings import Settings

#: Attributed input positions (sequences x length x attribution passes) from which a run
#: may start local worker processes: each one imports TensorFlow and loads the model
#: (5-10 s), and in one process TensorFlow already uses every core for each call, so
#: processes pay only for long runs on machines with cores to spare.  At the demo model's
#: ~5e6 positions per second and core this is minutes of work.
PROCESS_MIN_WORK = 5e8
#: Fewest cores for which ``workers="auto"`` starts worker processes.
PROCESS_MIN_CORES = 4


def attribution_work(ds: xr.Dataset, settings: Settings) -> float:
    """Input positions a run attributes: sequences x length x passes (mutants, null,
    references or integration steps).

    Examples
    --------
    >>> from dfimx.plans import plan_scan
    >>> from dfimx.settings import Settings
    >>> from dfimx.sequences import from_strings
    >>> ds = plan_scan(from_strings(["ACGTACGTAC"] * 2), 2, 6)
    >>> attribution_work(ds, Settings(null="none", method="grad_x_input").validate())
    260.0
    """
    from dfimx.mutants import n_draws  # numpy only; kept beside its one use

    n, length, m = ds.sizes["seq"], ds.sizes["position"], ds.sizes.get("mutation", 0)
    passes = 1 + m * n_draws(settings.mutation, settings.n_shuffles)
    if settings.null == "context":  # decoy sources in the real sequence: K per source
        passes += m * settings.null_draws
    elif settings.null != "none":  # shuffled copies: original and mutants per draw
        passes *= 1 + settings.null_draws
    if settings.reference == "dinuc":
        passes *= settings.n_references
    passes *= int(dict(settings.method_options).get("steps", 32)) \
        if settings.method == "integrated_gradients" else 1
    return float(n) * length * passes


def local_workers(workers: int | str | None, work: float, cores: int | None = None
                  ) -> int | None:
    """The worker processes to start for ``workers`` (``"auto"``: decided from ``work``).

    ``"auto"`` runs in this process (threads, ``0``) unless the run attributes at least
    :data:`PROCESS_MIN_WORK` input positions on a machine with at least
    :data:`PROCESS_MIN_CORES` cores; then it starts one worker per 2 cores (TensorFlow
    threads per worker = cores // workers).  Other values pass through.

    Examples
    --------
    >>> local_workers("auto", 1e7, cores=2), local_workers("auto", 1e9, cores=16)
    (0, 8)
    >>> local_workers("auto", 1e9, cores=2), local_workers(3, 1.0)
    (0, 3)
    """
    if workers != "auto":
        return workers  # type: ignore[return-value]
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count() or 1
    if cores < PROCESS_MIN_CORES or work < PROCESS_MIN_WORK:
        return 0
    return max(2, cores // 2)


__all__ = ["PROCESS_MIN_CORES", "PROCESS_MIN_WORK", "attribution_work", "local_workers"]
