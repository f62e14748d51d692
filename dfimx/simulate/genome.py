"""A simulated genome and VCF with known motif-breaking variants, for demos and tests.

The genome is an i.i.d. background (GC fraction ``gc``) on a few contigs. Motifs are
planted in *loci* that lie ``2 * window`` apart, so the window centred on a variant of one
locus never reaches another locus. Each locus holds its elements within the central
``window // 2`` bases, so the window of any variant of the locus contains all of them:

* ``pair`` loci hold the interacting motifs A and B (the first two motifs of the shipped
  MEME file, ``GATA_like`` and ``TAL1_like``) separated by a gap drawn from ``spacing``,
  plus a variant that breaks A or B: an SNV at a high-information motif column whose
  reference base is the consensus and whose alternate base is the least likely base of
  that column. Ground truth: ``kind = "breaks_pair_motif"``, ``partner_motif`` = the other.
* ``lone`` loci hold A or B alone, with a variant breaking it (``kind = "decoy"``).
* ``decoy_motif`` loci hold a decoy motif, with a variant breaking it (``kind = "decoy"``).
* ``random`` variants lie at random positions farther than ``window // 2`` from any planted
  motif and from the contig ends (``kind = "decoy"``).

Loci of every type also get ``n_locus_decoys`` decoy motifs (as the demo model's training
sequences do). Everything is drawn from one generator seeded by ``seed``.

Examples
--------
>>> import tempfile
>>> sim = simulate_variant_genome(tempfile.mkdtemp(), contig_length=20_000, window=200,
...                               n_pairs=4, n_lone_motifs=1, n_decoy_motifs=2,
...                               n_random_variants=3)
>>> sim.truth["kind"].value_counts().to_dict()
{'decoy': 6, 'breaks_pair_motif': 4}
>>> sorted(p.name for p in sim.directory.iterdir())[:4]
['genome.fa', 'genome.fa.fai', 'motifs.meme', 'planted_motifs.tsv']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfimx.alphabet import BASES, DEFAULT_GC, gc_background
from dfimx.io.fasta import write_fasta
from dfimx.io.meme import write_meme
from dfimx.motifs.pwm import sample_motif
from dfimx.simulate.sequences import SEQUENCE_REVCOMP, choose_motifs, place_elements

__all__ = ["GENOME_REVCOMP", "SimulatedVariants", "TRUTH_COLUMNS", "simulate_variant_genome"]

#: Columns of :attr:`SimulatedVariants.truth`.
TRUTH_COLUMNS = (
    "variant_id",
    "kind",
    "design",
    "chrom",
    "pos",
    "ref",
    "alt",
    "motif",
    "motif_start",
    "motif_end",
    "motif_strand",
    "partner_motif",
    "partner_start",
    "partner_end",
)
#: Default probability that :func:`simulate_variant_genome` plants a motif on the minus
#: strand: the same as :func:`dfimx.simulate.simulate_sequences`' (forward strand only), so
#: that a model trained on simulated sequences sees the genome's motifs as it learned them.
#: Pass ``revcomp=0.5`` to both for motifs on either strand.
GENOME_REVCOMP = SEQUENCE_REVCOMP


@dataclass
class SimulatedVariants:
    """Files and ground truth written by :func:`simulate_variant_genome`.

    Attributes
    ----------
    directory
        Output folder.
    genome
        ``genome.fa`` (with ``genome.fa.fai``).
    vcf
        ``variants.vcf`` (sorted, no samples).
    vcf_gz
        ``variants.vcf.gz`` (bgzip), or None when it could not be written.
    truth
        One row per variant, columns :data:`TRUTH_COLUMNS`; coordinates are 0-based
        half-open genome intervals, ``pos`` is 1-based (as in the VCF). Also written as
        ``truth.tsv``.
    planted
        Every planted motif: ``chrom``, ``start``, ``end`` (0-based half-open), ``name``,
        ``strand``, ``locus``, ``design``. Also written as ``planted_motifs.tsv``.
    motifs
        ``motifs.meme``: the motifs used.
    window
        Window length the loci were laid out for.
    pair
        Names of the interacting motifs (A, B).
    """

    directory: Path
    genome: Path
    vcf: Path
    vcf_gz: Path | None
    truth: pd.DataFrame
    planted: pd.DataFrame
    motifs: Path
    window: int
    pair: tuple[str, str]
    params: dict[str, Any] = field(default_factory=dict)


def _informative_column(pwm: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """A column with (close to) the largest top probability, its consensus and worst base."""
    top = pwm.max(axis=1)
    columns = np.flatnonzero(top >= top.max() - 1e-9)
    col = int(rng.choice(columns))
    ref = int(pwm[col].argmax())
    worst = np.flatnonzero(pwm[col] <= pwm[col].min() + 1e-9)
    return col, ref, int(rng.choice(worst))


def _vcf_header(contigs: dict[str, np.ndarray]) -> str:
    lines = ["##fileformat=VCFv4.2", "##source=dfimx.simulate.genome"]
    lines += [f"##contig=<ID={name},length={len(c)}>" for name, c in contigs.items()]
    lines += [
        '##INFO=<ID=KIND,Number=1,Type=String,Description="breaks_pair_motif or decoy">',
        '##INFO=<ID=DESIGN,Number=1,Type=String,Description="pair, lone, decoy_motif or '
        'random">',
        '##INFO=<ID=MOTIF,Number=1,Type=String,Description="Motif the variant breaks">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    return "\n".join(lines) + "\n"


def _write_bgzip_vcf(path: Path, header: str, records: list[str]) -> Path | None:
    try:
        import cyvcf2

        writer = cyvcf2.Writer.from_string(str(path), header, mode="wz")
        try:
            for line in records:
                writer.write_record(writer.variant_from_string(line))
        finally:
            writer.close()
    except Exception:  # noqa: BLE001 - the plain VCF is enough
        path.unlink(missing_ok=True)
        return None
    return path


def simulate_variant_genome(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    window: int = 200,
    n_contigs: int = 2,
    contig_length: int = 200_000,
    gc: float = DEFAULT_GC,
    motifs: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
    pair: tuple[str, str] | None = None,
    decoys: Sequence[str] | None = None,
    n_pairs: int = 60,
    n_lone_motifs: int = 20,
    n_decoy_motifs: int = 40,
    n_random_variants: int = 40,
    spacing: tuple[int, int] = (5, 40),
    n_locus_decoys: tuple[int, int] = (0, 1),
    revcomp: float = GENOME_REVCOMP,
    bgzip: bool = True,
) -> SimulatedVariants:
    """Write a simulated genome, a VCF of motif-breaking and decoy SNVs, and the truth.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed).
    seed
        Random seed; the output is a deterministic function of all arguments.
    window
        Length of the variant windows the scan will use (the demo model's input length):
        loci are laid out so that each variant's window holds its whole locus and nothing
        of any other.
    n_contigs, contig_length, gc
        Genome shape and background GC fraction. Contigs are named ``chr1``, ``chr2``, ...
    motifs, pair, decoys
        MEME path or ``{name: pwm}`` (default: the shipped file), the interacting pair
        (default: its first two motifs) and the decoys (default: all the others).
    n_pairs
        ``pair`` loci, each with one variant breaking A or B (chosen at random).
    n_lone_motifs
        ``lone`` loci with A or B alone and a variant breaking it.
    n_decoy_motifs
        ``decoy_motif`` loci with a decoy motif and a variant breaking it.
    n_random_variants
        Variants at random positions away from all motifs.
    spacing
        Range (inclusive) of the gap in bases between A and B.
    n_locus_decoys
        Range (inclusive) of extra decoy motifs planted in each locus.
    revcomp
        Probability that a planted motif is on the minus strand.
    bgzip
        Also write ``variants.vcf.gz`` (bgzip, through cyvcf2/htslib; no tabix index).

    Returns
    -------
    SimulatedVariants
        Paths and ground-truth tables.

    Raises
    ------
    ValueError
        When the loci or the random variants do not fit in the genome, or a pair with the
        largest spacing does not fit in ``window // 2`` bases.

    Examples
    --------
    >>> import tempfile
    >>> sim = simulate_variant_genome(tempfile.mkdtemp(), contig_length=20_000, window=200,
    ...                               n_pairs=3, n_lone_motifs=0, n_decoy_motifs=0,
    ...                               n_random_variants=2, seed=3)
    >>> sorted(sim.truth["kind"])
    ['breaks_pair_motif', 'breaks_pair_motif', 'breaks_pair_motif', 'decoy', 'decoy']
    >>> sim.pair
    ('GATA_like', 'TAL1_like')
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window = int(window)
    pwms, pair, decoy_tuple = choose_motifs(motifs, pair, decoys)
    decoy_names = list(decoy_tuple)
    if (n_decoy_motifs or n_locus_decoys[1]) and not decoy_names:
        raise ValueError("decoy motifs were asked for, but there are none")
    region = window // 2
    pair_width = pwms[pair[0]].shape[0] + pwms[pair[1]].shape[0] + int(spacing[1])
    if pair_width > region:
        raise ValueError(
            f"a pair with spacing {spacing[1]} is {pair_width} bases long; it must fit in "
            f"window // 2 = {region} bases: use a larger window or a smaller spacing"
        )

    rng = np.random.default_rng(seed)
    probs = gc_background(gc)
    contig_names = [f"chr{i + 1}" for i in range(n_contigs)]
    contigs = {
        name: rng.choice(4, size=contig_length, p=probs).astype(np.int8) for name in contig_names
    }

    stride = 2 * window
    per_contig = (contig_length - stride) // stride
    designs = ["pair"] * n_pairs + ["lone"] * n_lone_motifs + ["decoy_motif"] * n_decoy_motifs
    if len(designs) > per_contig * n_contigs:
        raise ValueError(
            f"{len(designs)} loci need {len(designs) * stride} bases of genome; "
            f"make the contigs longer or the window smaller"
        )
    slots = np.sort(rng.choice(per_contig * n_contigs, size=len(designs), replace=False))
    order = rng.permutation(len(designs))

    planted: list[dict[str, Any]] = []
    variants: list[dict[str, Any]] = []

    def plant(chrom: str, start: int, name: str, strand: str, locus: int, design: str,
              force: tuple[int, int] | None = None) -> np.ndarray:
        codes = sample_motif(pwms[name], rng)
        if force is not None:
            codes[force[0]] = force[1]
        if strand == "-":
            codes = (3 - codes)[::-1]
        contigs[chrom][start : start + len(codes)] = codes
        planted.append(
            {"chrom": chrom, "start": start, "end": start + len(codes), "name": name,
             "strand": strand, "locus": locus, "design": design}
        )
        return codes

    def breaking_variant(chrom: str, start: int, name: str, strand: str):
        col, ref, alt = _informative_column(pwms[name], rng)
        force = (col, ref)
        width = pwms[name].shape[0]
        if strand == "+":
            pos0 = start + col
        else:
            pos0 = start + width - 1 - col
            ref, alt = 3 - ref, 3 - alt
        return force, pos0, BASES[ref], BASES[alt]

    lone_turn = 0
    for locus, k in enumerate(order):
        design = designs[k]
        slot = int(slots[locus])
        chrom = contig_names[slot // per_contig]
        center = (slot % per_contig + 1) * stride
        lo = center - region // 2
        if design == "pair":
            first = int(rng.integers(2))
            main = [pair[first], pair[1 - first]]
            gaps = [int(rng.integers(spacing[0], spacing[1] + 1))]
        elif design == "lone":
            main = [pair[lone_turn % 2]]
            lone_turn += 1
            gaps = []
        else:
            main = [str(rng.choice(decoy_names))]
            gaps = []
        extra_n = int(rng.integers(n_locus_decoys[0], n_locus_decoys[1] + 1))
        extra = [str(rng.choice(decoy_names)) for _ in range(extra_n)] if decoy_names else []
        layout = None
        while layout is None:
            elements = list(main)
            element_gaps = list(gaps)
            insert_at = int(rng.integers(0, 2)) if extra else 0
            for name in extra:  # decoys before or after the main block, 1 base apart
                if insert_at == 0:
                    elements.insert(0, name)
                    element_gaps.insert(0, 1)
                else:
                    element_gaps.append(1)
                    elements.append(name)
            widths = [pwms[e].shape[0] for e in elements]
            layout = place_elements(widths, element_gaps, region, rng)
            if layout is None:
                if not extra:
                    raise ValueError(f"motifs {main} do not fit in window // 2 = {region} bases")
                extra = extra[:-1]
        strands = ["-" if rng.random() < revcomp else "+" for _ in elements]
        # The variant breaks A or B (at random) in a pair locus, the main motif otherwise.
        target = main[int(rng.integers(2))] if design == "pair" else main[0]
        placed = {}
        for name, start, strand in zip(elements, layout, strands, strict=True):
            placed.setdefault(name, (lo + start, strand))
        t_start, t_strand = placed[target]
        force, pos0, ref, alt = breaking_variant(chrom, t_start, target, t_strand)
        for name, start, strand in zip(elements, layout, strands, strict=True):
            is_target = name == target and (lo + start, strand) == (t_start, t_strand)
            plant(chrom, lo + start, name, strand, locus, design, force if is_target else None)
        partner = ""
        p_start = p_end = -1
        if design == "pair":
            partner = main[1] if target == main[0] else main[0]
            p_start = placed[partner][0]
            p_end = p_start + pwms[partner].shape[0]
        variants.append(
            {"kind": "breaks_pair_motif" if design == "pair" else "decoy", "design": design,
             "chrom": chrom, "pos": pos0 + 1, "ref": ref, "alt": alt, "motif": target,
             "motif_start": t_start, "motif_end": t_start + pwms[target].shape[0],
             "motif_strand": t_strand, "partner_motif": partner, "partner_start": p_start,
             "partner_end": p_end}
        )

    # Random variants: farther than window // 2 from every planted motif and contig end.
    if n_random_variants:
        half = window // 2 + 1
        allowed = {c: np.ones(contig_length, bool) for c in contig_names}
        for c in contig_names:
            allowed[c][:half] = False
            allowed[c][contig_length - half :] = False
        for p in planted:
            allowed[p["chrom"]][max(p["start"] - half, 0) : p["end"] + half] = False
        flat = np.concatenate([allowed[c] for c in contig_names])
        candidates = np.flatnonzero(flat)
        if len(candidates) < n_random_variants:
            raise ValueError(
                f"only {len(candidates)} positions are away from the planted motifs; "
                f"{n_random_variants} random variants do not fit"
            )
        picks = np.sort(rng.choice(candidates, size=n_random_variants, replace=False))
        shifts = rng.integers(1, 4, size=n_random_variants)
        for g, shift in zip(picks.tolist(), shifts.tolist(), strict=True):
            chrom = contig_names[g // contig_length]
            pos0 = g % contig_length
            ref = int(contigs[chrom][pos0])
            variants.append(
                {"kind": "decoy", "design": "random", "chrom": chrom, "pos": pos0 + 1,
                 "ref": BASES[ref], "alt": BASES[(ref + shift) % 4], "motif": "",
                 "motif_start": -1, "motif_end": -1, "motif_strand": "", "partner_motif": "",
                 "partner_start": -1, "partner_end": -1}
            )

    truth = pd.DataFrame(variants)
    truth["_contig"] = truth["chrom"].map({c: i for i, c in enumerate(contig_names)})
    truth = truth.sort_values(["_contig", "pos"], kind="stable").drop(columns="_contig")
    truth = truth.reset_index(drop=True)
    truth.insert(0, "variant_id", [f"simvar{i:06d}" for i in range(len(truth))])
    truth = truth[list(TRUTH_COLUMNS)]
    planted_df = pd.DataFrame(
        planted, columns=["chrom", "start", "end", "name", "strand", "locus", "design"]
    )
    planted_df["_contig"] = planted_df["chrom"].map({c: i for i, c in enumerate(contig_names)})
    planted_df = planted_df.sort_values(["_contig", "start"], kind="stable")
    planted_df = planted_df.drop(columns="_contig").reset_index(drop=True)

    genome = out / "genome.fa"
    write_fasta(genome, contigs, index=True)
    header = _vcf_header(contigs)
    records = [
        f"{r.chrom}\t{r.pos}\t{r.variant_id}\t{r.ref}\t{r.alt}\t.\tPASS\t"
        f"KIND={r.kind};DESIGN={r.design}" + (f";MOTIF={r.motif}" if r.motif else "")
        for r in truth.itertuples(index=False)
    ]
    vcf = out / "variants.vcf"
    vcf.write_text(header + "".join(line + "\n" for line in records))
    vcf_gz = _write_bgzip_vcf(out / "variants.vcf.gz", header, records) if bgzip else None
    truth.to_csv(out / "truth.tsv", sep="\t", index=False)
    planted_df.to_csv(out / "planted_motifs.tsv", sep="\t", index=False)
    motifs_path = write_meme(pwms, out / "motifs.meme")
    params = {
        "seed": seed, "window": window, "n_contigs": n_contigs, "contig_length": contig_length,
        "gc": gc, "n_pairs": n_pairs, "n_lone_motifs": n_lone_motifs,
        "n_decoy_motifs": n_decoy_motifs, "n_random_variants": n_random_variants,
        "spacing": list(spacing), "n_locus_decoys": list(n_locus_decoys), "revcomp": revcomp,
    }
    return SimulatedVariants(
        directory=out, genome=genome, vcf=vcf, vcf_gz=vcf_gz, truth=truth, planted=planted_df,
        motifs=motifs_path, window=window, pair=pair, params=params,
    )
