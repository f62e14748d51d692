"""Property-based inputs (hypothesis): FASTA texts, element tables, mut_dicts and VCFs.

Each generated input either loads and plans correctly (checked against an oracle written
here, independently of dfimx) or is refused with an :class:`InputError` of one line, never
another exception; a small part runs through the command line: exit 0 with a complete
store, or exit 2 with one line and no complete store. Deterministic
(``derandomize=True``, no example database).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dfimx.cli import main
from dfimx.errors import InputError
from dfimx.io.compressed import write_bgzf
from dfimx.io.fasta import write_fasta
from dfimx.io.vcf import read_variant_table
from dfimx.plans import plan_elements, plan_mut_dict, plan_scan
from dfimx.sequences import from_fasta, from_strings
from dfimx.store import is_complete

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=120,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BASES = "ACGT"
#: Characters of generated record ids (FASTA- and TSV-safe), and numeric ids.
ID_CHARS = "abxyzAB_.:|-"


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, text
    event("refused")


def _expected_onehot(seq: str, length: int | None) -> tuple[np.ndarray, int]:
    """The oracle: one-hot of ``seq`` centre-fitted to ``length``, and the offset."""
    codes = np.array([BASES.find(c) for c in seq.upper()], dtype=int)
    n = len(codes)
    length = n if length is None else length
    out = np.zeros((length, 4), np.uint8)
    offset = (n - length) // 2 if n >= length else -((length - n) // 2)
    for w in range(length):
        r = w + offset
        if 0 <= r < n and codes[r] >= 0:
            out[w, codes[r]] = 1
    return out, offset


# --------------------------------------------------------------------------- FASTA

CORRUPTIONS = [None, None, None, "bad_char", "empty_record", "lone_cr", "ragged",
               "text_before_header", "nameless_header", "duplicate_id"]
COMPRESSIONS = ["none", "none", "gzip", "bgzf", "gzip_cut", "bgzf_cut"]


@st.composite
def fasta_cases(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 4))
    ids = draw(st.lists(st.text(ID_CHARS, min_size=1, max_size=4)
                        | st.integers(0, 120).map(str), min_size=n, max_size=n, unique=True))
    equal = draw(st.booleans())
    size = draw(st.integers(1, 25))
    seqs = [draw(st.text("ACGTNacgtnRYKM", min_size=size if equal else 1,
                         max_size=size if equal else 25)) for _ in range(n)]
    return {
        "ids": ids, "seqs": seqs,
        "width": draw(st.none() | st.integers(1, 9)),
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
        "description": draw(st.booleans()),
        "corruption": draw(st.sampled_from(CORRUPTIONS)),
        "compression": draw(st.sampled_from(COMPRESSIONS)),
        "length": draw(st.none() | st.integers(1, 30)),
        "where": draw(st.integers(0, 10**6)),
    }


def _fasta_text(case: dict) -> tuple[bytes, list[str], list[str]]:
    """File bytes, and the ids and sequences a correct reader must return."""
    ids, seqs = list(case["ids"]), list(case["seqs"])
    nl, width, where = case["newline"], case["width"], case["where"]
    corruption = case["corruption"]
    k = where % len(ids)
    if corruption == "bad_char":
        s = seqs[k]
        pos = where % (len(s) + 1)
        seqs[k] = s[:pos] + "ZX-*!0 "[where % 7] + s[pos:]
    elif corruption == "empty_record":
        seqs[k] = ""
    elif corruption == "duplicate_id" and len(ids) > 1:
        ids[k] = ids[k - 1]
    lines = []
    for i, (rid, seq) in enumerate(zip(ids, seqs, strict=True)):
        if corruption == "nameless_header" and i == k:
            lines.append(">")  # ("> word" would name the record 'word', as in samtools)
        else:
            lines.append(">" + rid + (" some description" if case["description"] else ""))
        w = width or max(len(seq), 1)
        body = [seq[j:j + w] for j in range(0, len(seq), w)]
        if corruption == "ragged" and i == k and len(body) > 2:
            body = [body[0] + body[1][:1], body[1][1:]] + body[2:]
        lines += body
    text = nl.join(lines) + nl
    if corruption == "text_before_header":
        text = "ACGT" + nl + text
    if corruption == "lone_cr":
        cut = text.index(nl) + len(nl)  # after the first header line
        text = text[:cut] + text[cut:].replace(nl, "\r", 1)
    return text.encode(), ids, seqs


def _write_compressed(path: Path, data: bytes, compression: str, where: int) -> None:
    if compression in ("gzip", "gzip_cut"):
        packed = gzip.compress(data)
        if compression == "gzip_cut":
            packed = packed[: 10 + where % (len(packed) - 10)]  # at least the header left
        path.write_bytes(packed)
    elif compression in ("bgzf", "bgzf_cut"):
        block = 1 + where % 8
        write_bgzf(path, data, block=block, eof=compression == "bgzf")
        if compression == "bgzf_cut" and where % 2:  # cut inside a block, not at its end
            raw = path.read_bytes()
            path.write_bytes(raw[: max(18, len(raw) - 1 - where % 20)])
    else:
        path.write_bytes(data)


def _valid(case: dict, ids: list[str], seqs: list[str]) -> bool:
    if case["corruption"] is not None and case["corruption"] != "ragged":
        return False
    if case["corruption"] == "ragged" and case["compression"] in ("none", "bgzf"):
        return False  # pyfaidx needs equal line widths; the gzip reader does not
    if case["compression"].endswith("_cut"):
        return False
    return case["length"] is not None or len({len(s) for s in seqs}) == 1


@FUZZ
@given(fasta_cases())
def test_fasta_loads_correctly_or_is_refused_in_one_line(case):
    data, ids, seqs = _fasta_text(case)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("s.fa" if case["compression"] == "none" else "s.fa.gz")
        _write_compressed(path, data, case["compression"], case["where"])
        try:
            ds = from_fasta(path, length=case["length"], chunk_size=2)
            onehot = ds.seq_onehot.values
        except InputError as exc:
            _one_line(exc)
            assert not _valid(case, ids, seqs), (case, str(exc))
            return
    assert ds.seq_id.values.tolist() == ids, case
    for i, seq in enumerate(seqs):
        expect, offset = _expected_onehot(seq, case["length"])
        np.testing.assert_array_equal(onehot[i], expect, err_msg=str(case))
        if case["length"] is not None:
            assert int(ds.seq_offset[i]) == offset and int(ds.seq_length[i]) == len(seq)
    assert "seq_offset" in ds or case["length"] is None


# --------------------------------------------------------------------------- elements


def _kept(seq: str, length: int | None) -> tuple[int, int]:
    """Record positions ``[lo, hi)`` that the window of a fitted record keeps."""
    _, offset = _expected_onehot(seq, length)
    window = len(seq) if length is None else length
    return max(0, offset), min(len(seq), offset + window)


@st.composite
def _interval(draw: st.DrawFn, seq: str, length: int | None) -> tuple[int, int]:
    lo, hi = _kept(seq, length)
    start = draw(st.integers(lo, hi - 1))
    return start, draw(st.integers(start + 1, hi))


#: Bad cells of an elements table, by column (one of them, in half of the cases).
BAD_CELLS = {
    "seq": ["nope", "", " ", "-1", "7", "3"],
    "start": [2.5, "abc", "", "nan", "1e30", -1, 30, True],
    "end": [2.5, "abc", "", "inf", 0, 25, 99],
    "name": [None, ""],
    "role": ["neither", "sources", 1],
}


@st.composite
def element_cases(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 3))
    numeric = draw(st.booleans())
    ids = draw(st.lists(st.integers(0, 30).map(str) if numeric
                        else st.text("abcxyz", min_size=1, max_size=3),
                        min_size=n, max_size=n, unique=True))
    length = draw(st.none() | st.integers(4, 24))
    seqs = [draw(st.text(BASES, min_size=4 if length else 24, max_size=24)) for _ in range(n)]
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, n - 1))
        key = ids[i] if numeric or draw(st.booleans()) else str(i)  # an id, or an index
        start, end = draw(_interval(seqs[i], length))
        rows.append([key, start, end, draw(st.text("abcd", min_size=1, max_size=3)),
                     draw(st.sampled_from(["source", "target", "both", "BOTH ", None]))])
    if draw(st.booleans()):
        column = draw(st.sampled_from(sorted(BAD_CELLS)))
        row = draw(st.integers(0, len(rows) - 1))
        rows[row][["seq", "start", "end", "name", "role"].index(column)] = \
            draw(st.sampled_from(BAD_CELLS[column]))
    return {"ids": ids, "seqs": seqs, "length": length, "rows": [tuple(r) for r in rows],
            "csv": draw(st.booleans())}


def _seq_index(key: object, ids: list[str]) -> int | None:
    """The oracle of sequence lookup: an id; a 0-based index only when no id is numeric."""
    text = str(key).strip()
    if text in ids:
        return ids.index(text)
    if any(i.lstrip("-").isdigit() for i in ids):
        return None
    return int(text) if text.isdigit() and int(text) < len(ids) else None


def _planned_bases(plan, i: int, prefix: str) -> list[tuple[str, str]]:
    onehot = plan.seq_onehot.values[i]
    mask = plan[f"{prefix}_mask"].values[i]
    out = []
    for s, e, name in zip(plan[f"{prefix}_start"].values[i][mask],
                          plan[f"{prefix}_end"].values[i][mask],
                          plan[f"{prefix}_name"].values[i][mask], strict=True):
        out.append((str(name), "".join(BASES[b] for b in onehot[int(s):int(e)].argmax(-1))))
    return sorted(out)


@FUZZ
@given(element_cases())
def test_elements_plan_correctly_or_are_refused_in_one_line(case):
    ds = from_strings(case["seqs"], ids=case["ids"], length=case["length"], chunk_size=2)
    frame = pd.DataFrame(case["rows"], columns=["seq", "start", "end", "name", "role"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("el.csv" if case["csv"] else "el.tsv")
        frame.to_csv(path, sep="," if case["csv"] else "\t", index=False)
        try:
            plan = plan_elements(ds, str(path))
        except InputError as exc:
            _one_line(exc)
            return
        table = pd.read_csv(path, sep="," if case["csv"] else "\t",
                            dtype={"seq": str, "name": str, "role": str})
    # accepted: every row was valid, and each planned interval holds the record's bases
    expect: dict[tuple[int, str], list] = {}
    for row in table.itertuples(index=False):
        i = _seq_index(row.seq, case["ids"])
        assert i is not None, (row, case)
        start, end = float(row.start), float(row.end)
        assert start == int(start) and end == int(end) and 0 <= start < end
        record = case["seqs"][i]
        lo, hi = _kept(record, case["length"])
        assert lo <= start and end <= hi, (row, case)
        assert not pd.isna(row.name)
        role = "both" if pd.isna(row.role) else str(row.role).strip().lower()
        assert role in ("source", "target", "both")
        bases = record[int(start):int(end)]
        for prefix, roles in (("mutation", ("source", "both")), ("response", ("target", "both"))):
            if role in roles:
                expect.setdefault((i, prefix), []).append((str(row.name), bases))
    for i in range(len(case["ids"])):
        for prefix in ("mutation", "response"):
            assert _planned_bases(plan, i, prefix) == sorted(expect.get((i, prefix), [])), case


# --------------------------------------------------------------------------- mut_dict

#: Bad values of a mut_dict record, by key (one of them, in half of the cases).
BAD_VALUES = {
    "seq": ["nope", None, 5, ["s1"]],
    "mut_start": [12.7, "abc", None, True, [1, 2], {"a": 1}, -1, 25],
    "mut_end": [0.5, "x", [3], 99],
    "resp_start": [["a"], [1.5], "abc", [1, 2, 3, 4, 5]],
    "resp_end": [[None], [30], 2.2],
}


@st.composite
def mut_dict_cases(draw: st.DrawFn) -> dict:
    ids = draw(st.sampled_from([["s1", "s2"], ["1", "103"], ["0", "x"]]))
    seqs = [draw(st.text(BASES, min_size=20, max_size=20)) for _ in ids]
    records = []
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(ids) - 1))
        s, e = draw(_interval(seqs[i], None))
        intervals = draw(st.lists(_interval(seqs[i], None), max_size=3))
        rec = {"seq": ids[i], "mut_start": s, "mut_end": e,
               "mut_name": draw(st.text("mn", min_size=1, max_size=2)),
               "resp_start": [a for a, _ in intervals], "resp_end": [b for _, b in intervals]}
        if len(intervals) == 1 and draw(st.booleans()):  # a number instead of a list
            rec["resp_start"], rec["resp_end"] = intervals[0]
        if draw(st.booleans()):
            rec["resp_names"] = [f"r{j}" for j in range(len(intervals))]
        if draw(st.booleans()):
            rec["mut_start"] = draw(st.sampled_from([float(s), str(s)]))
        records.append(rec)
    fault = draw(st.sampled_from([None, None, "value", "value", "missing", "not_a_mapping"]))
    k = draw(st.integers(0, len(records) - 1))
    if fault == "value":
        key = draw(st.sampled_from(sorted(BAD_VALUES)))
        records[k][key] = draw(st.sampled_from(BAD_VALUES[key]))
    elif fault == "missing":
        records[k].pop(draw(st.sampled_from(sorted(records[k]))))
    elif fault == "not_a_mapping":
        records[k] = draw(st.sampled_from([5, "record", [1, 2], None]))
    shape = draw(st.sampled_from(["list", "records", "json_file", "json_file", "garbage"]))
    return {"ids": ids, "seqs": seqs, "records": records, "shape": shape,
            "garbage": draw(st.text(max_size=30))}


def _as_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    return int(f) if np.isfinite(f) and f == int(f) else None


@FUZZ
@given(mut_dict_cases())
def test_mut_dicts_plan_correctly_or_are_refused_in_one_line(case):
    ds = from_strings(case["seqs"], ids=case["ids"])
    with tempfile.TemporaryDirectory() as d:
        obj: object = case["records"]
        if case["shape"] == "records":
            obj = {"records": case["records"]}
        elif case["shape"] in ("json_file", "garbage"):
            path = Path(d) / "md.json"
            path.write_text(json.dumps(case["records"]) if case["shape"] == "json_file"
                            else case["garbage"])
            obj = str(path)
        try:
            plan = plan_mut_dict(ds, obj)
        except InputError as exc:
            _one_line(exc)
            return
    assert case["shape"] != "garbage" or json.loads(case["garbage"]) is not None
    expect: dict[int, list] = {}
    for rec in case["records"]:
        assert isinstance(rec, dict) and {"seq", "mut_start", "mut_end", "resp_start",
                                          "resp_end"} <= set(rec), rec
        i = _seq_index(rec["seq"], case["ids"])
        s, e = _as_int(rec["mut_start"]), _as_int(rec["mut_end"])
        assert i is not None and s is not None and e is not None and 0 <= s < e <= 20, rec
        name = str(rec.get("mut_name", f"{s}-{e}"))
        expect.setdefault(i, []).append((name, case["seqs"][i][s:e]))
        starts = rec["resp_start"] if isinstance(rec["resp_start"], list) else [rec["resp_start"]]
        ends = rec["resp_end"] if isinstance(rec["resp_end"], list) else [rec["resp_end"]]
        assert len(starts) == len(ends), rec
        for a, b in zip(starts, ends, strict=True):
            a, b = _as_int(a), _as_int(b)
            assert a is not None and b is not None and 0 <= a < b <= 20, rec
    for i in range(len(case["ids"])):
        assert _planned_bases(plan, i, "mutation") == sorted(expect.get(i, [])), case


# --------------------------------------------------------------------------- scan


@FUZZ
@given(st.lists(st.text(BASES, min_size=1, max_size=20), min_size=1, max_size=3),
       st.integers(1, 20), st.integers(-2, 22), st.integers(0, 6))
def test_scan_windows_are_in_the_record_frame(seqs, length, start, width):
    ds = from_strings(seqs, length=length)
    try:
        plan = plan_scan(ds, start, start + width)
    except InputError as exc:
        _one_line(exc)
        holds = [width > 0 and _kept(seq, length)[0] <= start
                 and start + width <= _kept(seq, length)[1] for seq in seqs]
        assert not all(holds), f"refused a window every record holds: {seqs, length, start}"
        return
    for i, seq in enumerate(seqs):
        starts = plan.mutation_start.values[i][::3]
        onehot = plan.seq_onehot.values[i]
        got = "".join(BASES[onehot[p].argmax()] for p in starts)
        assert got == seq[start:start + width]
        assert plan.response_name.values[i].tolist() == [str(p) for p in
                                                         range(start, start + width)]


# --------------------------------------------------------------------------- VCF

GENOME = {"chr1": "ACGTTGCAAGCTTACGGATCCATGCAGTCAGTACGATCGATGCATGCA" * 2, "chr2": "GATTACA" * 6}


@pytest.fixture(scope="module")
def genome_fa(tmp_path_factory):
    return str(write_fasta(tmp_path_factory.mktemp("genome") / "g.fa", GENOME, index=True))


#: Bad fields of a VCF record, by column (one of them, in half of the cases).
BAD_FIELDS = {
    0: ["1", "chrX", ""],
    1: ["0", "-3", "abc", "97", "1.5", ""],
    3: ["X", "", "<DEL>"],
    4: ["", "A]1:5]", "X,Y"],
}
#: Other ALT alleles: kept (SNVs) or skipped and counted.
ALTS = ["A", "C", "G", "T", "A,C", "G,T", "AT", ".", "<DEL>", "*", "N", "c", "G,<NON_REF>"]


@st.composite
def vcf_cases(draw: st.DrawFn) -> dict:
    records = []
    for _ in range(draw(st.integers(0, 6))):
        chrom = draw(st.sampled_from(sorted(GENOME)))
        pos = draw(st.integers(1, len(GENOME[chrom])))
        ref = GENOME[chrom][pos - 1]
        if draw(st.integers(0, 3)) == 0:
            ref = draw(st.sampled_from([ref.lower(), ref + "C", "N"]))
        fields = [chrom, str(pos), draw(st.sampled_from([".", "rs1", "id;x"])), ref,
                  draw(st.sampled_from(ALTS)), ".", "PASS", ".", "GT", "0/1"]
        records.append(fields[:draw(st.sampled_from([8, 10]))])
    fault = draw(st.sampled_from([None, None, "field", "field", "columns", "line"]))
    if records and fault == "field":
        k = draw(st.integers(0, len(records) - 1))
        column = draw(st.sampled_from(sorted(BAD_FIELDS)))
        records[k][column] = draw(st.sampled_from(BAD_FIELDS[column]))
    elif records and fault == "columns":
        k = draw(st.integers(0, len(records) - 1))
        records[k] = records[k][:draw(st.sampled_from([2, 5, 7]))]
    lines = ["\t".join(r) for r in records]
    if fault == "line":
        lines.insert(draw(st.integers(0, len(lines))),
                     draw(st.sampled_from(["", "#late header", "\t\t\t", "chr1 5 . A C"])))
    return {"records": lines, "compression": draw(st.sampled_from(
        ["none", "none", "bgzf", "bgzf_cut", "gzip"])), "where": draw(st.integers(0, 10**6))}


HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=96>\n##contig=<ID=chr2,length=42>\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n")


def _expected_rows(records: list[str]) -> list[tuple[str, int, str, str]] | None:
    """The oracle: (chrom, pos, REF, ALT) of every SNV allele, or None if any line is bad."""
    out = []
    for line in records:
        f = line.split("\t")
        if len(f) < 8 or not f[0] or not f[1].isdigit() or int(f[1]) < 1:
            return None
        chrom, pos, ref, alts = f[0], int(f[1]), f[3].upper(), f[4]
        if not ref or set(ref) - set("ACGTN") or not alts:
            return None
        snvs = [a for a in alts.upper().split(",")
                if len(ref) == 1 and a in BASES and ref in BASES and a != ref]
        if snvs and (chrom not in GENOME or pos > len(GENOME[chrom])
                     or GENOME[chrom][pos - 1] != ref):
            return None  # unknown contig, or REF mismatch: refused by default
        out += [(chrom, pos, ref, a) for a in snvs]
    return out


@FUZZ
@given(vcf_cases())
def test_vcfs_read_correctly_or_are_refused_in_one_line(genome_fa, case):
    data = (HEADER + "".join(r + "\n" for r in case["records"])).encode()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("v.vcf" if case["compression"] == "none" else "v.vcf.gz")
        if case["compression"] == "gzip":
            path.write_bytes(gzip.compress(data))
        elif case["compression"].startswith("bgzf"):
            write_bgzf(path, data, block=40 + case["where"] % 200,
                       eof=case["compression"] == "bgzf")
        else:
            path.write_bytes(data)
        expect = _expected_rows(case["records"])
        try:
            table, report = read_variant_table(path, genome_fa)
        except InputError as exc:
            _one_line(exc)
            assert expect is None or case["compression"] == "bgzf_cut", (case, str(exc))
            return
    assert case["compression"] != "bgzf_cut"
    assert expect is not None, case
    got = list(zip(table.variant_chrom, table.variant_pos.tolist(), table.variant_ref,
                   table.variant_alt, strict=True))
    assert got == expect, case
    assert report.kept == len(expect)


# --------------------------------------------------------------------------- CLI


def _cli(args: list[str], capsys) -> tuple[int, list[str]]:
    rc = main(args)
    return rc, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@settings(derandomize=True, database=None, deadline=None, max_examples=6,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(row=st.integers(0, 29), column=st.sampled_from(["seq", "start", "end", "role"]),
       value=st.sampled_from(["s5", "6", "abc", "12.5", "", "41", "-1", "target", "s0"]),
       wide=st.booleans())
def test_cli_bad_element_tables(oracle_files, capsys, row, column, value, wide):
    """One corrupted cell of the oracle elements table, on the oracle FASTA or on records
    widened by 5 bases on each side and cropped back with ``--length 40`` (coordinates in
    the record's frame)."""
    table = pd.read_csv(oracle_files["elements"], sep="\t", dtype=str)
    with tempfile.TemporaryDirectory() as d:
        fasta, extra = oracle_files["fasta"], []
        if wide:
            fasta, extra = os.path.join(d, "wide.fa"), ["--length", "40"]
            records = {name: "GATTA" + seq + "CATTA" for name, seq in
                       zip(oracle_files["ids"], (str(s) for s in _fasta_records(
                           oracle_files["fasta"])), strict=True)}
            write_fasta(fasta, records)
            for col in ("start", "end"):
                table[col] = (table[col].astype(int) + 5).astype(str)
        table.loc[row, column] = value
        elements, out = os.path.join(d, "el.tsv"), os.path.join(d, "out.zarr")
        table.to_csv(elements, sep="\t", index=False)
        args = ["run", "--model", oracle_files["model"], "--fasta", fasta,
                "--elements", elements, "-o", out, "--null", "none", "--method",
                "grad_x_input", "--no-progress", *extra]
        rc, err = _cli(args, capsys)
        if rc == 0:
            assert is_complete(out)
            event("exit 0")
        else:
            assert rc == 2 and len(err) == 1 and err[0].startswith("dfimx: error: "), err
            assert not is_complete(out)
            event("exit 2")


def _fasta_records(path: str) -> list[str]:
    from dfimx.io.fasta import stream_fasta

    return [seq for _, seq in stream_fasta(path)]
