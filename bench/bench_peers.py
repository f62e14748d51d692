"""dfimx against raw TensorFlow and against PyTorch peers (tangermeme, captum), same weights.

Every line is a ratio with both absolute figures (sequences per second; higher is better
for dfimx).  Each of ``--repeats`` rounds times every contender once, in turn, so that load
on the machine hits each alike; a ratio is the median over the rounds of the ratio within
each round, an absolute figure the median of its rounds.  Sections:

* ``perbase``: the per-base map of a 100-bp window (1 + 3x100 gradient x input
  attributions per sequence) by :func:`dfimx.run.run_dfim` (``--scan``, null none, Zarr
  store and all) against bare batched attribution of the same pre-built inputs
  (``METHODS['grad_x_input'].kernel``: one call, batch after batch, the plain TensorFlow
  loop), against the same bare attribution on the pipeline's model streams
  (:mod:`dfimx.attribution.streams`) and against tangermeme's ``dependency_map``
  (saliency), on the ``small`` and ``mid`` nets; and, bare, the mutants' per-position sums
  from their originals' forward pass (:mod:`dfimx.attribution.edits`, what the pipeline
  runs) against the same sums by full passes;
* ``attribution``: gradient x input, DeepLIFT (zero reference) and DeepSHAP (10 dinucleotide
  shuffles) against tangermeme ``saliency``, captum ``DeepLift`` and tangermeme
  ``deep_lift_shap``;
* ``ism``: exact ISM of 1,000-bp sequences on the dilated net: dfimx fast ISM against
  dfimx's full forward passes (checked equal) and against tangermeme's fast
  ``saturation_mutagenesis``.

Needs the ``bench`` extra (``pip install -e ".[bench]"``: torch CPU, tangermeme, captum);
without it the peer lines are skipped and said so.

The defaults take about five minutes on two cores; the ``--n-*`` counts and ``--repeats``
scale every section up (``--scale 4`` multiplies the sequence counts).

Usage: ``python -m bench.bench_peers [--only perbase attribution ism] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import numpy as np

from bench.common import bench_line
from bench.peers import NETS, check_twins, keras_net, ratio_line, torch_twin

BATCH = 512
WINDOW = 100
#: Default sequence counts of the per-base maps: enough work (~4 s of bare attribution per
#: round on two cores) that a run's fixed costs (creating and sealing its store, building
#: its graph: ~0.5 s) do not decide the ratio, as they would not in a real scan.
SMALL_SEQS = 512
MID_SEQS = 24
#: Sequences of the small net in the attribution section.
SMALL_ATTRIBUTION_SEQS = 256
#: At least one full model batch of dfimx's (it pads a batch to 64 rows, the peers do not).
MID_ATTRIBUTION_SEQS = 64
#: 1,000-bp sequences of the ISM section: one sequence times fast ISM's fixed costs (the
#: original's trunk, a graph per crop shape) more than its edits (4.7x vs 6.0x on four).
ISM_SEQS = 4


class Rounds:
    """Wall times of each function over rounds that go through all of them in turn."""

    def __init__(self, fns: dict[Any, Any], repeats: int) -> None:
        self.times: dict[Any, list[float]] = {k: [] for k in fns}
        for _ in range(max(1, repeats)):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                self.times[k].append(time.perf_counter() - t0)

    def __contains__(self, key: Any) -> bool:
        return key in self.times

    def rate(self, key: Any, n: int) -> float:
        """``n`` items over the median time of ``key``."""
        return n / float(np.median(self.times[key]))

    def ratio(self, ours: Any, theirs: Any) -> float:
        """Median over the rounds of ``time(theirs) / time(ours)`` (a throughput ratio)."""
        return float(np.median(np.array(self.times[theirs]) / np.array(self.times[ours])))

    def line(self, name: str, ours: Any, theirs: Any, n: int, what: str) -> str:
        """The ratio line of ``ours`` against ``theirs``, ``n`` sequences a round."""
        return ratio_line(name, self.rate(ours, n), self.rate(theirs, n), "seq/s", what,
                          ratio=self.ratio(ours, theirs))


def _peers() -> bool:
    try:
        import captum  # noqa: F401
        import tangermeme  # noqa: F401
        import torch
    except ImportError:
        print("# torch, tangermeme or captum missing (pip install -e '.[bench]'): peer lines "
              "skipped", flush=True)
        return False
    torch.set_num_threads(max(1, torch.get_num_threads()))
    return True


def _onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    from dfimx.testing import random_onehot

    return random_onehot(n, length, seed=seed).astype(np.float32)


def perbase(kind: str, n: int, repeats: int, peers: bool, tmp: str) -> None:
    from dfimx import plan_scan
    from dfimx.attribution import METHODS, edit_position_sums
    from dfimx.attribution.backprop import gradient_position_sums
    from dfimx.attribution.streams import model_streams
    from dfimx.models import model_spec_for
    from dfimx.mutants import make_mutants
    from dfimx.run import run_dfim
    from dfimx.sequences import from_onehot

    model = keras_net(kind)
    length = NETS[kind]
    spec = model_spec_for(model)
    scorer = spec.load()
    X = _onehot(n, length)
    start = (length - WINDOW) // 2
    scan = f"{start}:{start + WINDOW}"
    plan = plan_scan(from_onehot(X), start, start + WINDOW).compute()
    si, mi = np.nonzero(plan["mutation_mask"].values)
    mut = make_mutants(X[si], plan["mutation_start"].values[si, mi],
                       plan["mutation_end"].values[si, mi],
                       plan["mutation_alt"].values[si, mi])[:, 0]
    allx = np.concatenate([X, mut])
    kernel = METHODS["grad_x_input"].kernel
    runs = iter(range(10_000))

    def pipeline():
        run_dfim(spec, X, scan=scan, output=f"{tmp}/{kind}{next(runs)}.zarr", null="none",
                 method="grad_x_input", batch_size=BATCH, progress=False, workers=0)

    def raw_streams():  # the same kernel on the model streams the pipeline uses
        from dfimx.attribution.streams import call_in_streams

        call_in_streams(lambda x, r: (kernel(scorer, x, batch_size=BATCH),), allx, None,
                        batch_size=BATCH)

    edits = np.stack([si, plan["mutation_start"].values[si, mi],
                      plan["mutation_end"].values[si, mi]], axis=1)

    def raw_edits():  # the mutants' sums from their originals (dfimx.attribution.edits)
        edit_position_sums(scorer, X, edits, mut, batch_size=BATCH, times_input=True)

    fns = {"dfimx": pipeline, "raw": lambda: kernel(scorer, allx, batch_size=BATCH),
           "raw_streams": raw_streams, "raw_edits": raw_edits,
           "raw_sums": lambda: gradient_position_sums(scorer, mut, batch_size=BATCH,
                                                      times_input=True)}
    if peers:
        import torch
        from tangermeme.dependency_map import dependency_map

        twin = torch_twin(model, kind)
        print(f"# {kind}: Keras vs PyTorch outputs differ by {check_twins(model, twin, X[:8]):.2g}",
              flush=True)
        Xt = torch.tensor(X.transpose(0, 2, 1).copy())
        from tangermeme.saliency import saliency

        fns["tangermeme"] = lambda: dependency_map(
            twin, Xt, start=start, end=start + WINDOW,
            additional_func_kwargs={"batch_size": BATCH})
        allt = torch.tensor(allx.transpose(0, 2, 1).copy())
        fns["torch_raw"] = lambda: saliency(twin, allt, batch_size=BATCH)
    for fn in fns.values():  # warm-up: tracing, first allocations
        fn() if fn is not pipeline else run_dfim(
            spec, X[:4], scan=scan, output=f"{tmp}/{kind}-warm.zarr", null="none",
            method="grad_x_input", batch_size=BATCH, progress=False, workers=0)
    rounds = Rounds(fns, repeats)
    per = 1 + 3 * WINDOW
    what = (f"per-base map of a {WINDOW}-bp window ({per} grad_x_input attributions/seq), "
            f"{kind} net L={length}, {n} seqs, batch {BATCH}, {repeats} rounds")
    rounds.line(f"perbase_vs_raw_{kind}", "dfimx", "raw", n,
                f"{what}: run_dfim --scan (null none, store included) / bare grad_x_input "
                f"attribution (METHODS kernel) of the same {len(allx)} inputs")
    rounds.line(f"perbase_vs_raw_streams_{kind}", "dfimx", "raw_streams", n,
                f"{what}: run_dfim --scan / the same bare attribution on the "
                f"{model_streams()} model streams the pipeline uses")
    rounds.line(f"perbase_edits_vs_plain_{kind}", "raw_edits", "raw_sums", n,
                f"{what}: the {len(mut)} mutants' per-position sums from their originals' "
                f"forward pass (edit_position_sums, bare) / the same sums by full passes "
                f"(gradient_position_sums, bare)")
    if "tangermeme" in rounds:
        rounds.line(f"perbase_vs_tangermeme_{kind}", "dfimx", "tangermeme", n,
                    f"{what}: run_dfim --scan / tangermeme dependency_map (saliency)")
        rounds.line(f"raw_tf_vs_raw_torch_{kind}", "raw", "torch_raw", n,
                    f"{what}: bare TensorFlow grad_x_input / bare PyTorch saliency (tangermeme "
                    f"saliency x input) of the same {len(allx)} inputs")


def attribution(kind: str, n: int, repeats: int, peers: bool) -> None:
    from dfimx.attribution import attribute, make_references
    from dfimx.models import build_scorer

    model = keras_net(kind)
    scorer = build_scorer(model)
    X = _onehot(n, NETS[kind], seed=1)
    ids = [f"s{i}" for i in range(n)]
    refs = make_references(X, "dinuc", n_references=10, seq_ids=ids)
    ours = {
        "grad_x_input": lambda: attribute(scorer, X, method="grad_x_input", batch_size=BATCH),
        "deeplift": lambda: attribute(scorer, X, method="deeplift", reference="zeros",
                                      batch_size=BATCH),
        "deepshap": lambda: attribute(scorer, X, method="deepshap", reference=refs,
                                      batch_size=BATCH),
    }
    theirs: dict[str, Any] = {}
    names = {"grad_x_input": "tangermeme saliency", "deeplift": "captum DeepLift",
             "deepshap": "tangermeme deep_lift_shap"}
    if peers:
        import torch
        from captum.attr import DeepLift
        from tangermeme.deep_lift_shap import deep_lift_shap
        from tangermeme.saliency import saliency

        twin = torch_twin(model, kind)
        Xt = torch.tensor(X.transpose(0, 2, 1).copy())
        Rt = torch.tensor(refs.transpose(0, 1, 3, 2).copy())
        dl = DeepLift(twin)

        def captum_deeplift():
            for lo in range(0, n, BATCH):
                dl.attribute(Xt[lo : lo + BATCH], baselines=torch.zeros_like(Xt[lo : lo + BATCH]),
                             target=0)

        theirs = {
            "grad_x_input": lambda: saliency(twin, Xt, batch_size=BATCH),
            "deeplift": captum_deeplift,
            "deepshap": lambda: deep_lift_shap(twin, Xt, references=Rt, batch_size=BATCH,
                                               warning_threshold=1e9),
        }
    fns = {("dfimx", k): v for k, v in ours.items()}
    fns.update({("peer", k): v for k, v in theirs.items()})
    for fn in fns.values():
        fn()
    rounds = Rounds(fns, repeats)
    for k in ours:
        what = f"{k}, {kind} net, {n} seqs, batch {BATCH}, {repeats} rounds"
        if k == "deepshap":
            what += ", 10 dinucleotide-shuffled references"
        if ("peer", k) in rounds:
            rounds.line(f"{k}_vs_peer_{kind}", ("dfimx", k), ("peer", k), n,
                        f"{what}: dfimx / {names[k]}")
        else:
            bench_line(f"{k}_{kind}", rounds.rate(("dfimx", k), n), "seq/s", what)


def ism(n: int, repeats: int, peers: bool) -> None:
    from dfimx.attribution.mutagenesis import ism as dfimx_ism
    from dfimx.models import build_scorer

    model = keras_net("dilated")
    scorer = build_scorer(model)
    X = _onehot(n, NETS["dilated"], seed=2)
    fns: dict[str, Any] = {
        "fast": lambda: dfimx_ism(scorer, X, batch_size=BATCH),
        "naive": lambda: dfimx_ism(scorer, X, batch_size=BATCH, fast=False),
    }
    if peers:
        import torch
        from tangermeme.saturation_mutagenesis import saturation_mutagenesis

        twin = torch_twin(model, "dilated")
        Xt = torch.tensor(X.transpose(0, 2, 1).copy())
        fns["tangermeme"] = lambda: saturation_mutagenesis(twin, Xt, batch_size=BATCH,
                                                            raw_outputs=True)
    fast = fns["fast"]()
    naive = fns["naive"]()
    scale = float(np.abs(scorer.predict(X)).max())
    err = float(np.abs(fast - naive).max()) / scale
    print(f"# ism: fast vs full forward passes: largest difference {err:.2g} of the largest "
          f"output |f(x)| = {scale:.3g} (float32 round-off)", flush=True)
    if "tangermeme" in fns:
        fns["tangermeme"]()
    rounds = Rounds(fns, repeats)
    what = (f"exact ISM, dilated residual conv net L={NETS['dilated']} (RF 81 bp), {n} seqs, "
            f"3L substitutions each, batch {BATCH}, {repeats} rounds")
    rounds.line("fast_ism_vs_full_passes", "fast", "naive", n,
                f"{what}: dfimx fast ISM / dfimx full forward passes (equal to {err:.1g} of |f|)")
    if "tangermeme" in rounds:
        rounds.line("fast_ism_vs_tangermeme", "fast", "tangermeme", n,
                    f"{what}: dfimx fast ISM / tangermeme saturation_mutagenesis (fast=True)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=["perbase", "attribution", "ism"])
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds of each section")
    ap.add_argument("--n-small", type=int, default=SMALL_SEQS,
                    help="sequences, small net (per-base)")
    ap.add_argument("--n-mid", type=int, default=MID_SEQS, help="sequences, mid net (per-base)")
    ap.add_argument("--n-small-attribution", type=int, default=SMALL_ATTRIBUTION_SEQS,
                    help="sequences, small net (attribution section)")
    ap.add_argument("--n-mid-attribution", type=int, default=MID_ATTRIBUTION_SEQS,
                    help="sequences, mid net (attribution section)")
    ap.add_argument("--n-ism", type=int, default=ISM_SEQS, help="sequences, ISM")
    ap.add_argument("--ism-repeats", type=int, default=1,
                    help="timed ISM rounds (after the untimed equality check)")
    ap.add_argument("--scale", type=int, default=1,
                    help="multiply the sequence counts (e.g. 4 for steadier figures)")
    args = ap.parse_args()
    n_small, n_mid, n_small_attr, n_mid_attr, n_ism = (args.scale * k for k in (
        args.n_small, args.n_mid, args.n_small_attribution, args.n_mid_attribution,
        args.n_ism))
    peers = _peers()
    tmp = tempfile.mkdtemp(prefix="dfimx-peers-")
    sections = {
        "perbase": lambda: (perbase("small", n_small, args.repeats, peers, tmp),
                            perbase("mid", n_mid, args.repeats, peers, tmp)),
        "attribution": lambda: (attribution("small", n_small_attr, args.repeats, peers),
                                attribution("mid", n_mid_attr, args.repeats, peers)),
        "ism": lambda: ism(n_ism, args.ism_repeats, peers),
    }
    for name, run in sections.items():
        if name in args.only:
            t0 = time.perf_counter()
            run()
            print(f"# {name}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
