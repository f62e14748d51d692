"""``tasks_basset``: cost of attributing many tasks against one, on a Basset-like model.

A Basset-like model (:func:`dfimx.simulate.architectures.basset`: three convolution /
batch-norm / ReLU / max-pool blocks, two dense layers, one sigmoid per task) is built with
1 and with 164 tasks; DeepLIFT and grad x input of the same inputs are timed for each
(compilation excluded: one warm-up call first; the median of ``--repeats`` calls), with
the tasks' backward passes as :func:`dfimx.attribution.backprop.task_gradients` runs
them (``--vectorize``: all tasks in one vectorised pass).  Prints the time of one task,
of 164 tasks, their ratio (target <= 10), the cost per task, and the marginal cost of one
more task over the cost of the compiled forward pass alone.  Each task needs its own backward
pass through the convolutions, and an input-gradient pass through a convolution costs about
the floating-point work of its forward pass; a ratio of 10 would need each extra task to
cost ``9 / 163`` of a one-task run, well under one forward pass.

Usage: ``python -m bench.bench_tasks [--n 64] [--length 600] [--tasks 164]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import bench_line


def _time(fn, repeats: int) -> float:
    fn()  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="sequences per call")
    ap.add_argument("--length", type=int, default=600)
    ap.add_argument("--tasks", type=int, default=164)
    ap.add_argument("--filters", type=int, nargs=3, default=(64, 48, 48))
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", nargs="*", default=["deeplift", "grad_x_input"])
    ap.add_argument("--vectorize", action="store_true",
                    help="vectorise the tasks' backward passes (batch_jacobian)")
    args = ap.parse_args()
    if args.vectorize:
        from dfimx.attribution import backprop

        backprop.VECTORIZE_FROM_TASKS = 2

    from dfimx.attribution import attribute
    from dfimx.models import build_scorer
    from dfimx.simulate.architectures import basset

    X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (args.n,
                                                                            args.length))]
    scorers = {t: build_scorer(basset(args.length, n_tasks=t, filters=tuple(args.filters),
                                      hidden=args.hidden))
               for t in (1, args.tasks)}
    what = (f"Basset-like L={args.length} filters={tuple(args.filters)} n={args.n}, "
            f"{'vectorised' if args.vectorize else 'per-task'} backward passes, compiled, "
            "median of repeats")
    import tensorflow as tf

    net, x = scorers[1].network, tf.constant(X)
    forward = tf.function(lambda v: net(v, training=False))
    t_fwd = _time(lambda: forward(x).numpy(), args.repeats)
    bench_line("tasks_forward_pass", t_fwd, "s", what)
    for method in args.methods:
        cost = {t: _time(lambda s=s, m=method: attribute(s, X, method=m, batch_size=args.n),
                         args.repeats) for t, s in scorers.items()}
        ratio = cost[args.tasks] / cost[1]
        bench_line(f"tasks_{method}_1_task", cost[1], "s", what)
        bench_line(f"tasks_{method}_{args.tasks}_tasks", cost[args.tasks], "s", what)
        bench_line(f"tasks_{method}_{args.tasks}_vs_1", ratio, "x",
                   f"{args.tasks} tasks over 1 task (target <= 10); "
                   f"{cost[args.tasks] / args.tasks * 1e3:.3g} ms per task vs "
                   f"{cost[1] * 1e3:.3g} ms for one")
        marginal = (cost[args.tasks] - cost[1]) / (args.tasks - 1)
        bench_line(f"tasks_{method}_marginal_vs_forward", marginal / t_fwd, "x",
                   f"cost of one more task ({marginal * 1e3:.3g} ms) over one forward pass "
                   f"({t_fwd * 1e3:.3g} ms); 164 tasks within 10x of one would need "
                   f"{9 * cost[1] / (args.tasks - 1) * 1e3:.3g} ms per extra task")


if __name__ == "__main__":
    main()
