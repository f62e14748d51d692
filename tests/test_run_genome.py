"""``dfimx run --bed B --genome G.fa`` and ``--motifs M.meme``, end to end through the CLI.

Oracles: the windows are read back from the genome with plain string slicing of the FASTA
text, the window coordinates are computed by hand, and the motif elements must include
every consensus that the test planted (each one scores p ~ 4**-8 < 1e-4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dfimx.alphabet import onehot_to_strings
from dfimx.cli import main
from dfimx.errors import InputError
from dfimx.io.bed import read_bed
from dfimx.io.fasta import write_fasta
from dfimx.io.meme import write_meme
from dfimx.store import open_result

WINDOW = 200
GATA, EBOX = "AGATAAGA", "CACGTGTT"
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _pwm(consensus: str) -> np.ndarray:
    return np.eye(4)[["ACGT".index(b) for b in consensus]] * 0.9 + 0.025


def _revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


@pytest.fixture(scope="module")
def genome_job(tmp_path_factory):
    """A two-contig genome with planted motifs, a BED, a MEME file and a 200-bp CNN."""
    from dfimx.simulate import random_cnn

    d = tmp_path_factory.mktemp("genome_run")
    rng = np.random.default_rng(7)
    contigs = {"chr1": list("".join(rng.choice(list("ACGT"), 3000))),
               "chr2": list("".join(rng.choice(list("ACGT"), 150)))}
    planted = [("chr1", 500, GATA, "GATA"), ("chr1", 540, EBOX, "EBOX"),
               ("chr1", 1500, _revcomp(GATA), "GATA"), ("chr1", 1460, EBOX, "EBOX")]
    for chrom, start, text, _ in planted:
        contigs[chrom][start:start + len(text)] = list(text)
    genome = {k: "".join(v) for k, v in contigs.items()}
    fasta = write_fasta(d / "genome.fa", genome.items())
    bed = d / "regions.bed"
    bed.write_text("track name=test\nchr1\t480\t560\tenh1\nchr1\t1450\t1520\tenh2\n"
                   "chr1\t0\t40\tedge\nchr2\t10\t60\n")
    meme = write_meme({"GATA": _pwm(GATA), "EBOX": _pwm(EBOX)}, d / "motifs.meme")
    model = d / "cnn200.keras"
    random_cnn(WINDOW).save(model)
    return {"dir": d, "fasta": str(fasta), "bed": str(bed), "meme": str(meme),
            "model": str(model), "genome": genome, "planted": planted}


def _window(genome: dict[str, str], chrom: str, start: int) -> str:
    text = genome[chrom]
    return "".join(text[i] if 0 <= i < len(text) else "N" for i in range(start, start + WINDOW))


def test_run_bed_genome_motifs_end_to_end(genome_job, tmp_path, capsys):
    job = genome_job
    out = tmp_path / "peaks.zarr"
    rc = main(["run", "--model", job["model"], "--bed", job["bed"], "--genome", job["fasta"],
               "--motifs", job["meme"], "-o", str(out), "--null-draws", "2", "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    ds = open_result(out)
    # hand-computed windows: midpoint (start + end) // 2, WINDOW // 2 bases before it
    bed = [("chr1", 480, 560), ("chr1", 1450, 1520), ("chr1", 0, 40), ("chr2", 10, 60)]
    starts = [(s + e) // 2 - WINDOW // 2 for _, s, e in bed]
    ids = [f"{c}:{a}-{a + WINDOW}" for (c, _, _), a in zip(bed, starts, strict=True)]
    assert ds["seq_id"].values.tolist() == ids
    assert ds["window_start"].values.tolist() == starts
    assert ds["interval_name"].values.tolist() == ["enh1", "enh2", "edge", "chr2:10-60"]
    expected = [_window(job["genome"], c, a) for (c, _, _), a in zip(bed, starts, strict=True)]
    assert onehot_to_strings(ds["seq_onehot"].values) == expected
    valid = ds["window_valid"].values
    assert not valid[2, :80].any() and valid[2, 80:].all()  # chr1 starts at window base 80
    # every planted consensus is an element of its window, at window coordinates
    found = set()
    for i in range(ds.sizes["seq"]):
        mask = ds["mutation_mask"].values[i]
        for s, e, n in zip(ds["mutation_start"].values[i][mask],
                           ds["mutation_end"].values[i][mask],
                           ds["mutation_name"].values[i][mask], strict=True):
            found.add((i, int(s), int(e), str(n)))
    for chrom, start, text, name in job["planted"]:
        for i, ((c, _, _), a) in enumerate(zip(bed, starts, strict=True)):
            if c == chrom and a <= start and start + len(text) <= a + WINDOW:
                assert (i, start - a, start - a + len(text), name) in found
    # the pair GATA x EBOX of window 1 is scored in both directions, with q-values
    assert ds.attrs["plan"] == "elements" and ds.attrs["elements_from"] == "motifs"
    score = ds["interaction_score"].values[0]
    assert np.isfinite(score).sum() >= 2
    assert np.isfinite(ds["interaction_q_value"].values[0][np.isfinite(score)]).all()
    assert ds.sel(seq_id=ids[0])["prediction"].shape == (ds.sizes["task"],)
    # the closing summary: what was tested and where it went
    assert "4 sequences" in printed and "pairs scored" in printed
    assert f"wrote {out}" in printed and "next: dfimx export" in printed
    table = tmp_path / "t.tsv"
    assert main(["export", str(out), "-o", str(table)]) == 0
    rows = pd.read_csv(table, sep="\t")
    assert set(rows["seq_id"]) <= set(ids) and {"GATA", "EBOX"} <= set(rows["source_name"])


def test_run_bed_with_elements(genome_job, tmp_path, capsys):
    """--bed works with an elements table too (its ``seq`` column names the windows)."""
    job = genome_job
    el = tmp_path / "el.tsv"
    el.write_text("seq\tstart\tend\tname\nchr1:420-620\t80\t88\tg\nchr1:420-620\t120\t128\te\n")
    out = tmp_path / "el.zarr"
    rc = main(["run", "--model", job["model"], "--bed", job["bed"], "--genome", job["fasta"],
               "--elements", str(el), "-o", str(out), "--null", "none", "--no-progress"])
    assert rc == 0, capsys.readouterr()
    ds = open_result(out)
    assert ds.sel(seq_id="chr1:420-620")["mutation_name"].values.tolist() == ["g", "e"]


@pytest.mark.parametrize(("text", "message"), [
    ("chr1\t10\n", "regions.bed: line 1: expected at least 3 tab-separated columns"),
    ("chr1\t1\t2\nchr1\tx\t5\n", "regions.bed: line 2: start and end must be whole numbers"),
    ("chr1\t50\t50\n", "regions.bed: line 1: need 0 <= start < end"),
    ("# only a comment\n", "regions.bed: no intervals"),
])
def test_bed_errors_name_file_and_line(tmp_path, text, message):
    bed = tmp_path / "regions.bed"
    bed.write_text(text)
    with pytest.raises(InputError, match=message):
        read_bed(bed)


def test_cli_bed_errors_are_one_line(genome_job, tmp_path, capsys):
    job = genome_job
    bed = tmp_path / "other.bed"
    bed.write_text("chrX\t10\t60\n")
    base = ["run", "--model", job["model"], "--motifs", job["meme"], "-o",
            str(tmp_path / "x.zarr"), "--no-progress"]
    for extra, message in (
        (["--bed", str(bed), "--genome", job["fasta"]], "chrX"),
        (["--bed", job["bed"]], "--genome is required"),
        (["--bed", job["bed"], "--genome", job["fasta"], "--fasta", job["fasta"]],
         "not both"),
        (["--bed", job["bed"], "--genome", job["fasta"], "--scan", "1:5"], "exactly one"),
    ):
        assert main(base + extra) == 2
        err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
        assert len(err) == 1 and err[0].startswith("dfimx: error:") and message in err[0], err
    assert not (tmp_path / "x.zarr").exists()
