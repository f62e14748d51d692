"""The bench models built twice, in Keras and in PyTorch, with the same weights.

``small``: the DFIM paper's simulation net (:func:`dfimx.simulate.build_cnn`, 200 bp:
Conv1D(16, 11) -> global max -> Dense(16) -> Dense(1)); ``mid``: three Conv1D(128) blocks
with max pooling, Flatten, Dense(64), Dense(1) at 500 bp; ``dilated``: a BPNet-like tower
(Conv1D(64, 21), four dilated residual Conv1D(64, 3), global average, Dense(1)) at 1,000 bp
for ISM.  :func:`torch_twin` copies a Keras model's weights into the matching
``torch.nn.Module`` (input ``(N, 4, L)``, as tangermeme and captum take it), and
:func:`check_twins` checks that both give the same outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NETS = {"small": 200, "mid": 500, "dilated": 1000}


def keras_net(kind: str, seed: int = 0) -> Any:
    """The Keras model ``kind`` (see the module docstring), fixed random weights."""
    import keras

    init = keras.initializers
    length = NETS[kind]
    if kind == "small":
        from dfimx.simulate import build_cnn

        return build_cnn(length, seed=seed)
    inp = keras.Input((length, 4), name="sequence")
    if kind == "mid":
        x = inp
        for i, (width, pool) in enumerate(((19, 4), (11, 4), (7, 2))):
            x = keras.layers.Conv1D(128, width, padding="same", activation="relu",
                                    kernel_initializer=init.GlorotUniform(seed + i))(x)
            x = keras.layers.MaxPooling1D(pool)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(64, activation="relu",
                               kernel_initializer=init.GlorotUniform(seed + 3))(x)
    else:
        x = keras.layers.Conv1D(64, 21, padding="same", activation="relu",
                                kernel_initializer=init.GlorotUniform(seed))(inp)
        for i, d in enumerate((2, 4, 8, 16)):
            c = keras.layers.Conv1D(64, 3, dilation_rate=d, padding="same", activation="relu",
                                    kernel_initializer=init.GlorotUniform(seed + 1 + i))(x)
            x = keras.layers.Add()([x, c])
        x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(1, kernel_initializer=init.GlorotUniform(seed + 9))(x)
    return keras.Model(inp, out, name=f"bench_{kind}")


def torch_twin(model: Any, kind: str) -> Any:
    """The PyTorch module of ``kind`` with the weights of the Keras ``model``."""
    import torch
    from torch import nn

    convs = [la for la in model.layers if type(la).__name__ == "Conv1D"]
    dense = [la for la in model.layers if type(la).__name__ == "Dense"]

    def conv(layer):
        w, b = layer.get_weights()
        k, c_in, c_out = w.shape
        d = layer.dilation_rate[0]
        pad = d * (k - 1) // 2 if layer.padding == "same" else 0
        m = nn.Conv1d(c_in, c_out, k, dilation=d, padding=pad)
        m.weight.data = torch.tensor(np.transpose(w, (2, 1, 0)).copy())
        m.bias.data = torch.tensor(b)
        return m

    def linear(layer):
        w, b = layer.get_weights()
        m = nn.Linear(*w.shape)
        m.weight.data, m.bias.data = torch.tensor(w.T.copy()), torch.tensor(b)
        return m

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.hidden, self.out = conv(convs[0]), linear(dense[0]), linear(dense[1])
            self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

        def forward(self, x):
            h = self.relu1(self.conv(x)).max(dim=-1).values
            return self.out(self.relu2(self.hidden(h)))

    class Mid(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(conv(c) for c in convs)
            self.pools = nn.ModuleList(nn.MaxPool1d(p) for p in (4, 4, 2))
            self.relus = nn.ModuleList(nn.ReLU() for _ in convs)
            self.hidden, self.out, self.relu = linear(dense[0]), linear(dense[1]), nn.ReLU()

        def forward(self, x):
            for c, r, p in zip(self.convs, self.relus, self.pools, strict=True):
                x = p(r(c(x)))
            x = x.transpose(1, 2).flatten(1)  # Keras flattens position-major
            return self.out(self.relu(self.hidden(x)))

    class Dilated(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = conv(convs[0])
            self.convs = nn.ModuleList(conv(c) for c in convs[1:])
            self.relus = nn.ModuleList(nn.ReLU() for _ in convs)
            self.out = linear(dense[0])

        def forward(self, x):
            x = self.relus[0](self.first(x))
            for c, r in zip(self.convs, self.relus[1:], strict=True):
                x = x + r(c(x))
            return self.out(x.mean(dim=-1))

    net = {"small": Small, "mid": Mid, "dilated": Dilated}[kind]()
    return net.eval()


def check_twins(model: Any, twin: Any, X: np.ndarray) -> float:
    """Largest difference between the Keras and PyTorch outputs on ``X`` ``(N, L, 4)``."""
    import torch

    want = np.asarray(model(X.astype(np.float32), training=False))
    with torch.no_grad():
        got = twin(torch.tensor(X.transpose(0, 2, 1).copy(), dtype=torch.float32)).numpy()
    return float(np.abs(want - got).max())


def ratio_line(name: str, ours: float, theirs: float, unit: str, what: str,
               ratio: float | None = None) -> str:
    """``BENCH name ratio x what (dfimx A unit vs B unit)``, printed and returned.

    ``ratio`` defaults to ``ours / theirs`` (give it when measured otherwise, e.g. as the
    median of per-round ratios).
    """
    from bench.common import bench_line

    value = ours / theirs if ratio is None else ratio
    return bench_line(name, value, "x", f"{what} (dfimx {ours:.4g} {unit} vs {theirs:.4g} {unit})")
