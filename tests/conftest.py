"""Shared fixtures: small models built in code and files written by the tests."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd
import pytest

from dfimx.alphabet import onehot_to_strings
from dfimx.io.fasta import write_fasta
from dfimx.testing import random_onehot, small_cnn


@pytest.fixture
def two_sequences():
    """Two 20-bp sequences ``s1``, ``s2``, one per chunk."""
    from dfimx.sequences import from_strings

    return from_strings(["ACGTACGTACGTACGTACGT", "TTTTGGGGCCCCAAAATTTT"], ids=["s1", "s2"],
                        chunk_size=1)


@pytest.fixture(scope="session")
def cnn_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "cnn.keras"
    small_cnn().save(path)
    return str(path)


@pytest.fixture(scope="session")
def oracle_files(tmp_path_factory, cnn_path):
    """FASTA + elements for 6 random sequences of length 40 (sources at both edges)."""
    d = tmp_path_factory.mktemp("oracle")
    x = random_onehot(6, 40, seed=3)
    ids = [f"s{i}" for i in range(6)]
    fasta = str(write_fasta(d / "seqs.fa", zip(ids, onehot_to_strings(x), strict=True)))
    rows = []
    for sid in ids:
        rows += [
            (sid, 0, 4, "edge_left", "both"),
            (sid, 10, 16, "mid", "both"),
            (sid, 14, 20, "overlap_mid", "target"),
            (sid, 25, 30, "right", "target"),
            (sid, 36, 40, "edge_right", "both"),
        ]
    elements = d / "elements.tsv"
    pd.DataFrame(rows, columns=["seq", "start", "end", "name", "role"]).to_csv(
        elements, sep="\t", index=False
    )
    return {"dir": d, "fasta": fasta, "elements": str(elements), "onehot": x, "ids": ids,
            "model": cnn_path}


@pytest.fixture(scope="session")
def demo_training(tmp_path_factory):
    """``(model, seconds, path)``: the demo's A-and-B CNN (``simulate.DEMO_SETTINGS``, as
    ``dfimx demo`` trains it), trained once per session into a fresh folder, with the
    seconds that ``train_model`` took (simulation and saving not counted)."""
    import time

    from dfimx import simulate
    from dfimx.simulate import models

    seconds = []
    train = models.train_model

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = train(*args, **kwargs)
        seconds.append(time.perf_counter() - t0)
        return out

    path = tmp_path_factory.mktemp("demo_model") / "model.keras"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models, "train_model", timed)
        model = simulate.cached_demo_model(path)
    assert len(seconds) == 1, "the session's demo model was not trained"
    return model, seconds[0], str(path)


@pytest.fixture(scope="session")
def demo_model(demo_training):
    """Path of the demo's A-and-B CNN (see ``demo_training``), trained once per session."""
    return demo_training[2]


@pytest.fixture
def dfim_result(oracle_files):
    """``make(chunk_size=2, files=oracle_files, **settings)``: a lazy element-plan result."""
    import dfimx

    def make(chunk_size=2, files=None, **kw):
        files = files or oracle_files
        ds = dfimx.plan_elements(dfimx.from_fasta(files["fasta"], chunk_size=chunk_size),
                                 files["elements"])
        kw.setdefault("null_draws", 2)
        return dfimx.compute_dfim(ds, files["model"], **kw)

    return make


@pytest.fixture
def write_threaded():
    """``write(result, path, **kw)``: write_store on the threaded scheduler, no progress bar."""
    import dask

    from dfimx.store import write_store

    def write(result, path, **kw):
        with dask.config.set(scheduler="threads"):
            return write_store(result, path, progress=False, **kw)

    return write


@pytest.fixture
def genome(tmp_path):
    """``(genome FASTA path, {contig: sequence})``: two random contigs (523 and 301 bp), chr2
    with a stretch of N and soft-masked bases; headers carry a description."""
    import numpy as np

    rng = np.random.default_rng(7)
    contigs = {
        "chr1": "".join(rng.choice(list("ACGT"), 523)),
        "chr2": "".join(rng.choice(list("ACGT"), 301)),
    }
    contigs["chr2"] = contigs["chr2"][:100] + "NNNNN" + contigs["chr2"][105:200].lower() + (
        contigs["chr2"][200:]
    )
    records = {f"{name} description": seq for name, seq in contigs.items()}
    return write_fasta(tmp_path / "genome.fa", records, line_width=50), contigs


@pytest.fixture
def cropped_runs(oracle_files, tmp_path):
    """``(base, crop)`` lazy results: the oracle records, and the same records widened by 5
    bases on each side and cropped back with ``length=40`` (elements in the record's frame)."""
    import dfimx
    from dfimx.io.fasta import stream_fasta

    wide = write_fasta(tmp_path / "wide.fa", {name: "GATTA" + seq + "CATTA"
                                             for name, seq in stream_fasta(oracle_files["fasta"])})
    table = pd.read_csv(oracle_files["elements"], sep="\t")
    shifted = table.assign(start=table.start + 5, end=table.end + 5)
    settings = {"null": "none", "method": "grad_x_input"}
    base = dfimx.compute_dfim(dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"]),
                                                  table), oracle_files["model"], **settings)
    crop = dfimx.compute_dfim(dfimx.plan_elements(dfimx.from_fasta(wide, length=40), shifted),
                              oracle_files["model"], **settings)
    return base, crop


@pytest.fixture(scope="session")
def oracle_cluster(oracle_files, tmp_path_factory):
    """Runs of the oracle job on ONE loopback cluster, started with one worker and scaled to
    two (the worker processes and their TensorFlow start once for all cluster tests).

    ``{"address": the scheduler's, "w1": store of the run on one worker (chunks of 2),
    "w2": on two workers (chunks of 2), "w2_chunk3": on two workers (chunks of 3),
    "probes": {worker: (plugin scorer is the process cache's, TensorFlow threads)},
    "used": id of the scorer a task gets, "plugin_ids": the scorer ids of the plugins}``.
    """
    import dfimx
    from dfimx.cluster import PLUGIN_NAME, start_client
    from dfimx.dfim import compute_dfim
    from dfimx.models import ModelSpec, load_scorer
    from dfimx.store import write_store

    d = tmp_path_factory.mktemp("cluster")

    def run(path, chunk_size):
        ds = dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"], chunk_size=chunk_size),
                                 oracle_files["elements"])
        write_store(compute_dfim(ds, oracle_files["model"], null_draws=2), path, progress=False)
        return path

    spec = ModelSpec.from_path(oracle_files["model"])
    out = {}
    with start_client(workers=1, spec=spec) as client:
        out["address"] = client.scheduler_info()["address"]
        out["w1"] = run(d / "w1.zarr", 2)
        client.cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        out["w2"] = run(d / "w2.zarr", 2)
        out["w2_chunk3"] = run(d / "w2_chunk3.zarr", 3)

        def probe(dask_worker):
            plugin = dask_worker.plugins[PLUGIN_NAME]
            return plugin.scorer_id == id(load_scorer(spec)), plugin.tf_threads

        out["probes"] = client.run(probe)
        out["used"] = client.submit(lambda: id(load_scorer(spec)), pure=False).result()
        out["plugin_ids"] = set(client.run(
            lambda dask_worker: dask_worker.plugins[PLUGIN_NAME].scorer_id).values())
    return out
