"""The method comparison behind the README's "Defaults" table (not part of ``make bench``).

On the project's simulation (the demo model, ``--n`` held-out sequences, ``--seed``), runs
exact double-mutant epistasis (``--method ism``) and DFIM with each method, then prints per
method: AUROC of the true pair against every other pair (directional and symmetric score),
power and decoy rate at q < 0.05 with the default null (for the first two methods), and the
Spearman correlation with the exact epistasis over all directed element pairs.

Usage: ``python -m bench.method_comparison [--n 150] [--seed 21]`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
from scipy.stats import mannwhitneyu, spearmanr

from dfimx import simulate
from dfimx.run import run_dfim
from dfimx.store import open_result
from dfimx.tables import to_dataframe

KEYS = ["seq_id", "source_name", "target_name"]
#: (method, extra options, with the default null)
RUNS = [
    ("grad_x_input", {}, True),
    ("deeplift", {}, True),
    ("deeplift", {"mutation": "zeros"}, False),
    ("deepshap", {}, False),
    ("integrated_gradients", {}, False),
]


def _auroc(values: np.ndarray, true: np.ndarray) -> float:
    pos, neg = values[true], values[~true]
    return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=150, help="held-out sequences")
    ap.add_argument("--seed", type=int, default=21, help="simulation seed")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="dfimx-methods-")
    model = f"{tmp}/model.keras"
    simulate.cached_demo_model(model)
    sim = simulate.simulate_sequences(args.n, 200, seed=args.seed, id_prefix="t")
    fasta, elements = str(sim.to_fasta(f"{tmp}/s.fa")), str(sim.elements_tsv(f"{tmp}/e.tsv"))
    a, b = sim.true_pair_names

    def table(name: str, method: str, null: bool, **extra) -> tuple:
        store = run_dfim(model, fasta, elements=elements, output=f"{tmp}/{name}.zarr",
                         method=method, null="dinuc" if null else "none", progress=False,
                         **extra)
        df = to_dataframe(open_result(store))
        true = (((df.source_name == a) & (df.target_name == b))
                | ((df.source_name == b) & (df.target_name == a))).to_numpy()
        return df.set_index(KEYS), true

    exact, _ = table("ism", "ism", False)
    print(f"# {args.n} sequences, seed {args.seed}, {len(exact)} directed pairs; exact "
          "epistasis with the same (default GC) replacement")
    for i, (method, extra, null) in enumerate(RUNS):
        df, true = table(f"run{i}", method, null, **extra)
        line = (f"{method} {extra or ''}: AUROC {_auroc(df.score.to_numpy(), true):.3f}, "
                f"sym {_auroc(df.symmetric_score.to_numpy(), true):.3f}")
        if null:
            sig, sym = (df.q_value < 0.05).to_numpy(), (df.symmetric_q_value < 0.05).to_numpy()
            line += (f"; power/decoys {sig[true].mean():.3f}/{sig[~true].mean():.3f}, "
                     f"sym {sym[true].mean():.3f}/{sym[~true].mean():.3f}")
        d = df.loc[exact.index]
        line += (f"; Spearman {spearmanr(exact.score, d.score).statistic:.3f}, "
                 f"sym {spearmanr(exact.score, d.symmetric_score).statistic:.3f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
