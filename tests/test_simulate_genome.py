"""The simulated genome and VCF (dfimx.simulate.genome): layout, truth and determinism."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dfimx.io.meme import load_motifs
from dfimx.io.vcf import read_variant_table
from dfimx.simulate import simulate_variant_genome


def _read_fasta_text(path: Path) -> dict[str, str]:
    """An independent FASTA reader for the tests."""
    out: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = []
        elif name is not None:
            out[name].append(line.strip())
    return {k: "".join(v).upper() for k, v in out.items()}


def test_genome_sim_round_trip(tmp_path):
    kwargs = dict(
        contig_length=30_000, window=200, n_pairs=12, n_lone_motifs=4, n_decoy_motifs=6,
        n_random_variants=10, seed=5,
    )
    sim = simulate_variant_genome(tmp_path / "a", **kwargs)
    table, report = read_variant_table(sim.vcf, sim.genome)  # every REF matches the genome
    assert report.kept == len(sim.truth) == 32
    assert table["variant_id"].tolist() == sim.truth["variant_id"].tolist()
    if sim.vcf_gz is not None:
        assert read_variant_table(sim.vcf_gz, sim.genome)[0].equals(table)
    text = _read_fasta_text(sim.genome)
    assert {k: len(v) for k, v in text.items()} == {"chr1": 30_000, "chr2": 30_000}
    gc = np.mean([b in "GC" for b in text["chr1"]])
    assert abs(gc - 0.46) < 0.02
    pwms = load_motifs(sim.motifs)
    truth = sim.truth
    for r in truth.itertuples(index=False):
        assert text[r.chrom][r.pos - 1] == r.ref
        if r.design == "random":
            near = sim.planted[(sim.planted.chrom == r.chrom)
                               & (sim.planted.end > r.pos - 1 - 100)
                               & (sim.planted.start < r.pos + 100)]
            assert near.empty
            continue
        assert r.motif_start <= r.pos - 1 < r.motif_end
        hit = sim.planted[(sim.planted.chrom == r.chrom) & (sim.planted.start == r.motif_start)]
        assert hit["name"].tolist() == [r.motif]
        pwm = pwms[r.motif]
        col = r.pos - 1 - r.motif_start
        ref, alt = "ACGT".index(r.ref), "ACGT".index(r.alt)
        if r.motif_strand == "-":
            col, ref, alt = len(pwm) - 1 - col, 3 - ref, 3 - alt
        assert pwm[col, ref] == pwm.max() and pwm[col, alt] == pwm[col].min()
        if r.kind == "breaks_pair_motif":
            assert {r.motif, r.partner_motif} == set(sim.pair)
            lo = r.pos - 1 - sim.window // 2
            assert lo <= r.partner_start and r.partner_end <= lo + sim.window
        else:
            assert r.partner_motif == ""
    assert set(truth["design"]) == {"pair", "lone", "decoy_motif", "random"}
    again = simulate_variant_genome(tmp_path / "b", **kwargs)
    assert again.truth.equals(sim.truth)
    assert again.genome.read_bytes() == sim.genome.read_bytes()
    assert again.vcf.read_bytes() == sim.vcf.read_bytes()
    other = simulate_variant_genome(tmp_path / "c", **{**kwargs, "seed": 6})
    assert other.genome.read_bytes() != sim.genome.read_bytes()
    fai = (Path(str(sim.genome) + ".fai")).read_text().split()
    assert fai[:5] == ["chr1", "30000", "6", "60", "61"]
    assert os.path.getmtime(str(sim.genome) + ".fai") >= os.path.getmtime(sim.genome)


def test_genome_sim_checks_its_layout(tmp_path):
    with pytest.raises(ValueError, match="window // 2"):
        simulate_variant_genome(tmp_path, window=40)
    with pytest.raises(ValueError, match="longer"):
        simulate_variant_genome(tmp_path, contig_length=5_000, n_pairs=50)
    with pytest.raises(ValueError, match="not in the motif set"):  # checked as for sequences
        simulate_variant_genome(tmp_path, pair=("GATA_like", "nope"))
