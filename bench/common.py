"""Shared pieces of the dfimx benchmarks: simulated inputs, a model, timers, memory sampling.

Every benchmark prints one line per result::

    BENCH <name> <value> <unit> <what was compared>
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LENGTH = 200


def bench_line(name: str, value: float, unit: str, what: str) -> str:
    """Print and return one ``BENCH`` line.

    Examples
    --------
    >>> bench_line("x_vs_y", 1.2345, "x", "x over y") # doctest: +ELLIPSIS
    BENCH x_vs_y 1.23 x x over y
    'BENCH x_vs_y 1.23 x x over y'
    """
    line = f"BENCH {name} {value:.3g} {unit} {what}"
    print(line, flush=True)
    return line


#: Bench model sizes: (filters per convolution, (kernel widths), dense units).
#: ``small`` (two convolutions of 32 filters) is cheap enough that per-input bookkeeping
#: shows; ``medium`` (three of 64, still small for genomics CNNs such as Basset) is closer
#: to the cost of models that are used in practice.
MODEL_SIZES: dict[str, tuple[int, tuple[int, ...], int]] = {
    "small": (32, (15, 7), 32),
    "medium": (64, (19, 11, 7), 64),
}


def build_model(length: int = LENGTH, seed: int = 0, size: str = "small") -> Any:
    """A CNN with fixed random weights: ``Conv1D`` + ``MaxPool`` blocks, ``Dense``, sigmoid.

    ``small``: ``Conv1D(32, 15)`` → ``MaxPool(4)`` → ``Conv1D(32, 7)`` → ``MaxPool(4)`` →
    ``Dense(32)`` → ``Dense(1, sigmoid)``; ``medium``: three ``Conv1D(64, ·)`` blocks
    (widths 19, 11, 7) and ``Dense(64)``.
    """
    import keras

    filters, widths, units = MODEL_SIZES[size]
    init = keras.initializers
    layers = keras.layers
    inp = keras.Input((length, 4), name="sequence")
    x = inp
    for i, width in enumerate(widths):
        x = layers.Conv1D(filters, width, activation="relu", padding="same",
                          kernel_initializer=init.GlorotUniform(seed + i))(x)
        x = layers.MaxPooling1D(4 if i < 2 else 2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(units, activation="relu",
                     kernel_initializer=init.GlorotUniform(seed + len(widths)))(x)
    out = layers.Dense(1, activation="sigmoid", name="bench",
                       kernel_initializer=init.GlorotUniform(seed + len(widths) + 1))(x)
    return keras.Model(inp, out, name=f"dfimx_bench_cnn_{size}")


@dataclass
class Inputs:
    """Files of a simulated job."""

    fasta: str
    elements: str
    model: str
    n: int


def make_inputs(directory: str | os.PathLike, n: int, *, seed: int = 0,
                length: int = LENGTH, model_size: str = "small") -> Inputs:
    """A FASTA of ``n`` simulated sequences, their planted elements, and a bench model."""
    from dfimx import simulate

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    sim = simulate.simulate_sequences(n, length, seed=seed)
    fasta = sim.to_fasta(d / f"seqs{n}.fa", line_width=None)
    elements = d / f"elements{n}.tsv"
    sim.elements[["seq", "start", "end", "name", "role"]].to_csv(elements, sep="\t",
                                                                 index=False)
    model = d / f"model_{model_size}.keras"
    if not model.exists():
        simulate.save_model(build_model(length, size=model_size), model)
    return Inputs(str(fasta), str(elements), str(model), n)


class TreeMemorySampler:
    """Peak resident memory (RSS) of a process and all its descendants, sampled in a thread.

    Examples
    --------
    >>> with TreeMemorySampler(os.getpid()) as s:  # doctest: +SKIP
    ...     work()
    >>> s.peak_bytes  # doctest: +SKIP
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Timer:
    """Wall-clock seconds of a ``with`` block."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
