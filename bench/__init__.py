"""dfimx benchmarks: ``python -m bench`` runs them all; each prints ``BENCH`` lines."""
