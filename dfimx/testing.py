"""Helpers for tests, examples and notebooks: one synthetic result, stores, checks.

:func:`example_result` builds a random dataset with the layout of a dfimx result
(README, "Data contract") in which one element pair interacts; :func:`write_example_store`
writes it as a chunked Zarr store through :mod:`dfimx.store` and reopens it lazily.
:func:`raise_if_dask_computes` proves that a function only builds a Dask graph, and
:func:`example_variants` simulates a small genome and VCF and reads the variant table.
:func:`external_refs` lists the network references of an HTML page.  Toy inputs and
models: :func:`random_onehot`, :func:`small_cnn` and :func:`randomize_weights`.

Examples
--------
>>> ds = example_result(n_seq=10)
>>> ds.sizes["seq"], sorted(set(ds["mutation_name"].values.ravel()) - {""})
(10, ['CTCF', 'GATA', 'SP1', 'TAL1'])
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import dask
import numpy as np
import xarray as xr

from dfimx.alphabet import BASES
from dfimx.io.vcf import read_variant_table
from dfimx.simulate import SimulatedVariants, simulate_variant_genome
from dfimx.stats import bh_q_values, empirical_p_values
from dfimx.store import open_result, write_store
from dfimx.variables import as_str

__all__ = [
    "CountingScheduler",
    "assert_p_values_agree",
    "assert_same_to_round_off",
    "block_inputs_of",
    "example_result",
    "example_store",
    "example_variants",
    "external_refs",
    "raise_if_dask_computes",
    "random_onehot",
    "randomize_weights",
    "small_cnn",
    "write_example_store",
]

def example_result(
    n_seq: int = 20,
    *,
    length: int = 120,
    n_tasks: int = 2,
    n_null: int = 8,
    per_base: bool = False,
    variants: bool = False,
    keep_delta: bool = True,
    seed: int = 1,
) -> xr.Dataset:
    """A random dataset with the layout of a dfimx result, for tests and examples.

    Element layout: two to four named elements per sequence (``GATA``, ``TAL1`` and some
    of ``CTCF``, ``SP1``; padding beyond), each both source and target; ``GATA -> TAL1``
    interacts (scores shifted by 1.5, small q-values). Per-base layout
    (``per_base=True``): the sources are positions 30-39 with their three alternative
    bases, the targets the single positions 50-89. Position 3 is an ``N`` (all-zero row).
    p-values are empirical against the pooled null (:func:`dfimx.stats.empirical_p_values`),
    q-values Benjamini-Hochberg (:func:`dfimx.stats.bh_q_values`).

    Parameters
    ----------
    n_seq
        Number of sequences (``seq_id`` ``chr1:<1000 s>-<1000 s + length>``).
    length
        Sequence length: at least 60 (elements) or 90 (per-base layout).
    n_tasks
        Number of tasks (``task0``, ``task1``, ...).
    n_null
        Null draws per test (``null_interaction_score``).
    per_base
        Per-base scan layout instead of element pairs.
    variants
        Add variant coordinates on ``seq`` (``variant_id`` ``rs<100 + s>``).
    keep_delta
        Store ``delta`` (the Δ profiles).
    seed
        Random seed.

    Returns
    -------
    xarray.Dataset
        In memory (numpy-backed).

    Examples
    --------
    >>> ds = example_result(n_seq=3, per_base=True, n_tasks=1)
    >>> ds["interaction_score"].shape
    (3, 30, 40, 1)
    """
    need = 90 if per_base else 60
    if length < need:
        raise ValueError(f"length must be at least {need} for this layout, got {length}")
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n_seq, length))
    onehot = np.eye(4, dtype=np.uint8)[codes]
    onehot[:, 3] = 0  # an N
    if per_base:
        n_mut, n_resp = 30, 40
        mstart = np.zeros((n_seq, n_mut), np.int64)
        malt = np.zeros((n_seq, n_mut), np.int8)
        for s in range(n_seq):
            k = 0
            for p in range(30, 40):
                for a in range(4):
                    if a != codes[s, p]:
                        mstart[s, k], malt[s, k] = p, a
                        k += 1
        mend = mstart + 1
        mname = as_str([[f"{BASES[codes[s, p]]}{p}{BASES[a]}" for p, a in
                         zip(mstart[s], malt[s], strict=True)] for s in range(n_seq)])
        mmask = np.ones((n_seq, n_mut), bool)
        rstart = np.tile(np.arange(50, 90, dtype=np.int64), (n_seq, 1))
        rend = rstart + 1
        rname = as_str([[f"pos{p}" for p in range(50, 90)]] * n_seq)
        rmask = np.ones((n_seq, n_resp), bool)
    else:
        n_mut = n_resp = 4
        spacing = length // 4
        mstart = np.zeros((n_seq, 4), np.int64)
        mend = np.zeros((n_seq, 4), np.int64)
        mname = np.full((n_seq, 4), "", dtype=object)
        mmask = np.zeros((n_seq, 4), bool)
        malt = np.full((n_seq, 4), -1, np.int8)
        for s in range(n_seq):
            k = rng.integers(2, 5)
            names = ["GATA", "TAL1", *rng.choice(["CTCF", "SP1"], k - 2, replace=False)]
            slots = np.sort(rng.choice(4, k, replace=False)) * spacing + rng.integers(0, 6)
            for j in range(k):
                mstart[s, j], mend[s, j] = slots[j], slots[j] + 10
                mname[s, j] = names[rng.permutation(k)[j]] if s % 7 == 0 else names[j]
                mmask[s, j] = True
        rstart, rend, rname, rmask = mstart.copy(), mend.copy(), mname.copy(), mmask.copy()
    overlap = (mstart[:, :, None] < rend[:, None, :]) & (rstart[:, None, :] < mend[:, :, None])
    pad = ~(mmask[:, :, None] & rmask[:, None, :])
    score = rng.normal(0, 0.3, (n_seq, n_mut, n_resp, n_tasks)).astype(np.float32)
    if not per_base:
        inter = (mname[:, :, None] == "GATA") & (rname[:, None, :] == "TAL1")
        score[inter] += 1.5
    else:
        score[:, 5:8, 10:12] += 2.0
    nan = overlap | pad
    score[nan] = np.nan
    null = rng.normal(0, 0.3, (*score.shape, n_null)).astype(np.float32)
    null[nan] = np.nan
    p = empirical_p_values(score, null).astype(np.float32)
    q = np.asarray(bh_q_values(p), dtype=np.float32)
    imp = (onehot[..., None] * rng.normal(0, 0.5, (n_seq, length, 4, n_tasks))).astype(
        np.float32)
    pos = np.arange(length)
    inside = (pos[None, None, :] >= mstart[:, :, None]) & (pos[None, None, :] < mend[:, :, None])
    frac = rng.uniform(0, 0.8, (n_seq, n_mut, 1, 1, n_tasks)).astype(np.float32)
    profile = imp.sum(axis=2)[:, None] * frac[:, :, :, 0]
    profile[~mmask] = 0
    profile[inside] = np.nan
    pred = rng.normal(1, 1, (n_seq, n_tasks)).astype(np.float32)
    mpred = pred[:, None] - rng.uniform(0, 1, (n_seq, n_mut, n_tasks)).astype(np.float32)
    ds = xr.Dataset(
        {
            "seq_id": ("seq", as_str([f"chr1:{1000 * s}-{1000 * s + length}"
                                      for s in range(n_seq)])),
            "seq_onehot": (("seq", "position", "base"), onehot),
            "mutation_start": (("seq", "mutation"), mstart),
            "mutation_end": (("seq", "mutation"), mend),
            "mutation_name": (("seq", "mutation"), as_str(mname)),
            "mutation_alt": (("seq", "mutation"), malt),
            "mutation_mask": (("seq", "mutation"), mmask),
            "response_start": (("seq", "response"), rstart),
            "response_end": (("seq", "response"), rend),
            "response_name": (("seq", "response"), as_str(rname)),
            "response_mask": (("seq", "response"), rmask),
            "prediction": (("seq", "task"), pred),
            "mutant_prediction": (("seq", "mutation", "task"), mpred),
            "seq_importance": (("seq", "position", "base", "task"), imp),
            "interaction_profile": (("seq", "mutation", "position", "task"), profile),
            "interaction_score": (("seq", "mutation", "response", "task"), score),
            "interaction_p_value": (("seq", "mutation", "response", "task"), p),
            "interaction_q_value": (("seq", "mutation", "response", "task"), q),
            "null_interaction_score": (("seq", "mutation", "response", "task", "null"), null),
        },
        coords={"task": as_str([f"task{k}" for k in range(n_tasks)]), "base": as_str(BASES)},
        attrs={
            "dfimx_version": "0.1.0", "model_sha256": "0" * 64, "method": "grad_x_input",
            "reference": "zeros", "mutation_mode": "per_base" if per_base else "zeros",
            "score_reduction": "sum", "null": "dinuc", "null_draws": n_null,
            "pvalue": "empirical", "null_level": "global", "seed": seed,
            "inputs": ["seqs.fa", "elements.tsv"], "command": "dfimx run --model m.keras",
            "created": "2024-01-01T00:00:00Z",
        },
    )
    if keep_delta:
        delta = imp[:, None] * frac
        delta[inside] = 0
        delta[~mmask] = 0
        ds["delta"] = (("seq", "mutation", "position", "base", "task"), delta)
    if variants:
        ds = ds.assign(
            variant_chrom=("seq", as_str(np.where(np.arange(n_seq) % 3, "chr2", "chr1"))),
            variant_pos=("seq", (5000 + 1000 * np.arange(n_seq)).astype(np.int64)),
            variant_ref=("seq", as_str(["A"] * n_seq)),
            variant_alt=("seq", as_str(["G"] * n_seq)),
            variant_id=("seq", as_str([f"rs{100 + s}" for s in range(n_seq)])),
        )
    return ds


def example_variants(*, n_pairs: int = 2, n_lone_motifs: int = 0, n_decoy_motifs: int = 0,
                     n_random_variants: int = 1, bgzip: bool = False,
                     **options: Any) -> tuple[SimulatedVariants, Any]:
    """A small simulated genome (one 20-kb contig, 200-bp windows) and its variant table.

    Returns ``(simulation, table)``: :func:`dfimx.simulate.simulate_variant_genome` in a
    new temporary folder, and :func:`dfimx.io.vcf.read_variant_table` of its VCF.

    Examples
    --------
    >>> sim, table = example_variants(n_pairs=2)
    >>> len(table) > 0, sim.genome.suffix
    (True, '.fa')
    """
    options = {"contig_length": 20_000, "window": 200, **options}
    sim = simulate_variant_genome(tempfile.mkdtemp(prefix="dfimx-example-"), n_pairs=n_pairs,
                                  n_lone_motifs=n_lone_motifs, n_decoy_motifs=n_decoy_motifs,
                                  n_random_variants=n_random_variants, bgzip=bgzip, **options)
    table, _ = read_variant_table(sim.vcf, sim.genome)
    return sim, table


def example_store(n_seq: int = 6, chunk: int = 4) -> str:
    """The path of a new finished store of :func:`example_result` (in a temporary folder).

    Examples
    --------
    >>> example_store().endswith("example.zarr")
    True
    """
    path = os.path.join(tempfile.mkdtemp(prefix="dfimx-example-"), "example.zarr")
    write_example_store(example_result(n_seq), path, chunk)
    return path


def write_example_store(ds: xr.Dataset, path: str | os.PathLike, chunk: int = 50) -> xr.Dataset:
    """Write ``ds`` as a dfimx Zarr store chunked by ``chunk`` sequences; reopen it lazily.

    The store is written by :func:`dfimx.store.write_store` (Zarr v3, one region per
    chunk) and reopened by :func:`dfimx.store.open_result`.

    Examples
    --------
    >>> import tempfile
    >>> store = write_example_store(example_result(6), tempfile.mkdtemp() + "/r.zarr", 4)
    >>> store["interaction_score"].chunks[0]
    (4, 2)
    """
    lazy = ds.copy()
    for name, var in ds.data_vars.items():
        # strings stay in memory: the store writes them with the template
        if "seq" in var.dims and var.dtype.kind not in "OSUT":
            lazy[name] = var.chunk({"seq": chunk})
    write_store(lazy, path, progress=False)
    return open_result(path)


class CountingScheduler:
    """A Dask scheduler that counts its calls and raises past ``max_computes``.

    Parameters
    ----------
    max_computes
        Number of computes allowed.
    """

    def __init__(self, max_computes: int = 0) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(
                f"Too many computes. Total: {self.total_computes} > max: {self.max_computes}."
            )
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[CountingScheduler]:
    """Within the block, any Dask compute beyond ``max_computes`` raises RuntimeError.

    The active scheduler is replaced (``dask.config.set(scheduler=...)``) by a
    :class:`CountingScheduler`; allowed computes run synchronously.

    Parameters
    ----------
    max_computes
        Number of computes allowed (default none).

    Yields
    ------
    CountingScheduler
        Its ``total_computes`` counts the computes seen.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.ones(4, chunks=2)
    >>> with raise_if_dask_computes():
    ...     y = (x + 1).sum()              # only builds the graph
    >>> with raise_if_dask_computes():
    ...     y.compute()
    Traceback (most recent call last):
    ...
    RuntimeError: Too many computes. Total: 1 > max: 0.
    >>> with raise_if_dask_computes(max_computes=1) as scheduler:
    ...     float(y.compute())
    8.0
    """
    scheduler = CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def external_refs(text: str) -> list[str]:
    """``src``/``href`` attribute values of an HTML page's tags that point to the network.

    Examples
    --------
    >>> external_refs('<script src="https://cdn.example/x.js"></script><a href="#top">')
    ['https://cdn.example/x.js']
    """
    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for k, v in attrs:
                if k in ("src", "href") and v and not v.startswith(("data:", "#", "blob:")):
                    found.append(v)

    Parser().feed(text)
    return found


# --------------------------------------------------------------------------- toy models


def block_inputs_of(ds: xr.Dataset) -> dict[str, Any]:
    """The keyword arguments of :func:`dfimx.dfim.kernel.dfim_block` for a planned dataset
    (numpy arrays, no pair mask).

    Examples
    --------
    >>> from dfimx.plans import plan_scan
    >>> from dfimx.sequences import from_onehot
    >>> ds = plan_scan(from_onehot(random_onehot(2, 12)), 2, 6).compute()
    >>> block_inputs_of(ds)["mut_start"].shape
    (2, 12)
    """
    names = {"onehot": "seq_onehot", "seq_ids": "seq_id", "mut_start": "mutation_start",
             "mut_end": "mutation_end", "mut_alt": "mutation_alt", "mut_mask": "mutation_mask",
             "resp_start": "response_start", "resp_end": "response_end",
             "resp_mask": "response_mask"}
    return {**{k: ds[v].values for k, v in names.items()}, "pair_mask": None}


def random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    """``(n, length, 4)`` uint8 one-hot of uniformly random bases.

    Examples
    --------
    >>> random_onehot(2, 5).sum(axis=(1, 2)).tolist()
    [5, 5]
    """
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]


def randomize_weights(model: Any, seed: int = 0, *, scale: float = 0.5,
                      nested: bool = True) -> Any:
    """Give a Keras model random weights (normal, ``scale``); BatchNorm gets plausible
    statistics.  Nested models are randomized too (with ``seed + 1``).  Returns ``model``.
    """
    import keras  # TensorFlow loads only for the helpers that build models

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if nested and isinstance(layer, keras.Model):
            randomize_weights(layer, seed + 1, scale=scale)
            continue
        ws = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            n = ws[0].shape
            layer.set_weights([rng.normal(1, 0.3, n), rng.normal(0, 0.3, n),
                               rng.normal(0, 0.3, n), rng.uniform(0.5, 2, n)])
        elif ws:
            layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in ws])
    return model


def small_cnn(length: int = 40, n_out: int = 1, seed: int = 0,
              activation: str = "sigmoid") -> Any:
    """A small nonlinear CNN (two convolutions, max pooling, dense) with a sigmoid head;
    random, deterministic weights.

    Examples
    --------
    >>> small_cnn(length=20).output_shape
    (None, 1)
    """
    import keras  # TensorFlow loads only for the helpers that build models

    keras.utils.set_random_seed(seed)
    inp = keras.Input((length, 4), name="sequence")
    h = keras.layers.Conv1D(6, 5, padding="same", activation="relu")(inp)
    h = keras.layers.Conv1D(4, 3, padding="same", activation="tanh")(h)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(8, activation="relu")(h)
    out = keras.layers.Dense(n_out, activation=activation, name="head")(h)
    return keras.Model(inp, out)



def assert_same_to_round_off(actual: Any, desired: Any, *, rtol: float = 1e-5,
                             name: str = "") -> None:
    """Assert two float arrays are equal up to float32 round-off of their largest value.

    TensorFlow's CPU kernels may change the last bits of a row's result with its position
    in a model batch, so results of different chunkings agree to round-off, not bitwise.
    NaNs must be at the same places.

    Examples
    --------
    >>> assert_same_to_round_off(np.array([1.0, np.nan]), np.array([1.0 + 1e-7, np.nan]))
    """
    a, d = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(d), err_msg=f"{name}: NaN pattern")
    scale = float(np.nanmax(np.abs(d))) if np.isfinite(d).any() else 0.0
    np.testing.assert_allclose(a, d, rtol=0, atol=rtol * scale + 1e-12, equal_nan=True,
                               err_msg=name)


def assert_p_values_agree(actual: Any, desired: Any, *, max_fraction: float = 0.01,
                          alpha: float = 0.05, name: str = "") -> None:
    """Assert two runs' p- (or q-) values agree: at most ``max_fraction`` of them differ
    (scores that tie a null score within round-off) and as few calls at ``alpha`` change.

    Examples
    --------
    >>> assert_p_values_agree(np.array([0.01, 0.5, np.nan]), np.array([0.01, 0.5, np.nan]))
    """
    a, d = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(d), err_msg=f"{name}: NaN pattern")
    finite = np.isfinite(d)
    n = max(1, int(finite.sum()))
    differ = int((~np.isclose(a[finite], d[finite], rtol=1e-6, atol=0)).sum())
    calls = int(((a[finite] < alpha) != (d[finite] < alpha)).sum())
    assert differ <= max_fraction * n, f"{name}: {differ} of {n} values differ"
    assert calls <= max_fraction * n, f"{name}: {calls} of {n} calls at {alpha} differ"
