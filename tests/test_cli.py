"""Every bad input: one line naming file, record and problem; exit status 2; no store."""

from __future__ import annotations

import json

import pytest

from dfimx.cli import main
from dfimx.store import is_complete


def _run(capsys, args):
    rc = main(args)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return rc, err


@pytest.fixture
def base(oracle_files, tmp_path):
    return ["run", "--model", oracle_files["model"], "--no-progress", "--null", "none",
            "-o", str(tmp_path / "out.zarr")]


def _bad_cases(oracle_files, tmp_path):
    bad_fa = tmp_path / "bad.fa"
    bad_fa.write_text(">ok\n" + "A" * 40 + "\n>bad\n" + "A" * 10 + "X" + "A" * 29 + "\n")
    uneq = tmp_path / "uneq.fa"
    uneq.write_text(">a\n" + "A" * 40 + "\n>b\n" + "A" * 39 + "\n")
    el_unknown = tmp_path / "unknown.tsv"
    el_unknown.write_text("seq\tstart\tend\tname\nnope\t0\t4\ta\n")
    el_outside = tmp_path / "outside.tsv"
    el_outside.write_text("seq\tstart\tend\tname\ns0\t30\t45\ta\n")
    el_reversed = tmp_path / "reversed.tsv"
    el_reversed.write_text("seq\tstart\tend\tname\ns0\t10\t5\ta\n")
    md = tmp_path / "md.json"
    md.write_text(json.dumps([{"seq": "s0", "mut_start": 0, "mut_end": 4}]))
    fa, el = oracle_files["fasta"], oracle_files["elements"]
    return [
        (["--fasta", str(bad_fa), "--elements", el], "bad.fa: record 'bad' position 10"),
        (["--fasta", str(uneq), "--elements", el], "uneq.fa: record 'b' has length 39"),
        (["--fasta", fa, "--elements", str(el_unknown)], "unknown.tsv: record 1: unknown seq"),
        (["--fasta", fa, "--elements", str(el_outside)], "outside.tsv: record 1: element"),
        (["--fasta", fa, "--elements", str(el_reversed)], "reversed.tsv: record 1: reversed"),
        (["--fasta", fa, "--mut-dict", str(md)], "md.json: record 1: missing key(s)"),
        (["--fasta", fa, "--scan", "30:50"], "scan window [30, 50) lies outside"),
        (["--fasta", fa, "--scan", "a:b"], "--scan: expected START:END"),
        (["--fasta", fa, "--elements", el, "--method", "magic"],
         "--method: unknown method 'magic'"),
        (["--fasta", fa, "--elements", el, "--null", "dinuc", "--null-draws", "0"],
         "--null-draws must be at least 1"),
        (["--fasta", fa, "--elements", el, "--null-level", "seq"], "--null-level: unknown value"),
        (["--fasta", fa, "--elements", el, "--task", "nope"], "task 'nope' not found"),
        (["--fasta", str(tmp_path / "missing.fa"), "--elements", el], "FASTA file not found"),
        # finding 10: ranges refused up front (they gave tracebacks or were ignored)
        (["--fasta", fa, "--elements", el, "--chunk-size", "-5"],
         "--chunk-size must be at least 1, got -5"),
        (["--fasta", fa, "--elements", el, "--mutation", "shuffle", "--n-shuffles", "0"],
         "--n-shuffles must be at least 1, got 0"),
        (["--fasta", fa, "--elements", el, "--method", "integrated_gradients", "--steps", "0"],
         "--steps must be at least 1, got 0"),
        (["--fasta", fa, "--elements", el, "--steps", "8"],
         "--steps applies only to method 'integrated_gradients'"),
        (["--fasta", fa, "--elements", el, "--batch-size", "0"],
         "--batch-size must be at least 1, got 0"),
        (["--fasta", fa, "--elements", el, "--method", "deepshap", "--n-references", "0"],
         "--n-references must be at least 1, got 0"),
        (["--fasta", fa, "--elements", el, "--workers", "-2"],
         "--workers must be at least 0, got -2"),
    ]


def test_bad_inputs_give_one_line_and_status_2(oracle_files, tmp_path, capsys, base):
    for args, message in _bad_cases(oracle_files, tmp_path):
        rc, err = _run(capsys, base + args)
        assert rc == 2, args
        assert len(err) == 1, err
        assert err[0].startswith("dfimx: error: ")
        assert message in err[0], (message, err[0])
        assert not (tmp_path / "out.zarr").exists()


def test_model_errors(oracle_files, tmp_path, capsys, base):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 junk")
    rc, err = _run(capsys, ["run", "--model", str(junk), "--fasta", oracle_files["fasta"],
                            "--elements", oracle_files["elements"], "-o",
                            str(tmp_path / "o.zarr")])
    assert rc == 2 and len(err) == 1 and "junk.keras: cannot load model" in err[0]


def test_incomplete_store_is_refused_by_export(oracle_files, tmp_path, capsys):
    import dfimx
    from dfimx.dfim import compute_dfim
    from dfimx.store import write_store

    ds = dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"], chunk_size=2),
                             oracle_files["elements"])
    result = compute_dfim(ds, oracle_files["model"], null="none")
    store = tmp_path / "partial.zarr"

    def boom(path):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_store(result, store, progress=False, finalize=boom)
    assert store.exists() and not is_complete(store)
    rc, err = _run(capsys, ["export", str(store), "-o", str(tmp_path / "t.tsv")])
    assert rc == 2 and "store is incomplete" in err[0]
    assert not (tmp_path / "t.tsv").exists()
    rc, err = _run(capsys, ["export", str(tmp_path / "none.zarr"), "-o", str(tmp_path / "t")])
    assert rc == 2 and "store not found" in err[0]


def test_export_format_follows_the_suffix(oracle_files, tmp_path, capsys):
    """Finding 10: `export -o x.parquet` silently wrote TSV; unknown suffixes are refused."""
    import pandas as pd

    from dfimx.store import open_result
    from dfimx.tables import to_dataframe

    store = tmp_path / "r.zarr"
    assert main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
                 "--elements", oracle_files["elements"], "-o", str(store), "--null-draws", "2",
                 "--no-progress"]) == 0
    capsys.readouterr()
    table = to_dataframe(open_result(store))
    assert main(["export", str(store), "-o", str(tmp_path / "t.parquet")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), table,
                                  check_dtype=False)
    summary = pd.read_parquet(tmp_path / "t.pair_summary.parquet")
    assert len(summary) and "median_score" in summary
    assert main(["export", str(store), "-o", str(tmp_path / "t.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "t.csv")) == len(table)
    assert (tmp_path / "t.pair_summary.csv").exists()
    capsys.readouterr()
    rc, err = _run(capsys, ["export", str(store), "-o", str(tmp_path / "t.xlsx")])
    assert rc == 2 and len(err) == 1 and "unknown table suffix '.xlsx'" in err[0]
    assert not list(tmp_path.glob("t.xlsx*")) and not list(tmp_path.glob("t.pair_summary.x*"))


def test_scan_variants_zero_is_a_value_not_unset(monkeypatch, tmp_path):
    """`--max-motif-targets 0` was read as "not given" (16 targets)."""
    import dfimx.run

    seen = {}

    def fake_scan(*args, **kwargs):
        seen.update(kwargs)
        raise InputError("stop here")

    from dfimx.errors import InputError

    monkeypatch.setattr(dfimx.run, "scan_variants", fake_scan)
    base = ["scan-variants", "--model", "m.keras", "--genome", "g.fa", "--vcf", "v.vcf",
            "-o", str(tmp_path / "s.zarr")]
    assert main(base + ["--max-motif-targets", "0", "--max-cis-variants", "0"]) == 2
    assert (seen["max_motif_targets"], seen["max_cis_variants"]) == (0, 0)
    assert main(base) == 2
    assert (seen["max_motif_targets"], seen["max_cis_variants"]) == (16, 16)
    assert seen["p_value_threshold"] == 1e-4
