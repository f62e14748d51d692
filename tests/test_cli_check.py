"""``dfimx check``: one line per problem and exit 2, or a one-line summary and exit 0."""

from __future__ import annotations

from dfimx.cli import main


def test_check_lists_every_problem(dfim_result, write_threaded, tmp_path, capsys):
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}: whole: 3 regions, ")
    assert out[0].endswith("match their checksums")
    (path / "seq_onehot" / "c" / "0" / "0" / "0").unlink()
    score = path / "interaction_score" / "c" / "2" / "0" / "0" / "0"
    score.write_bytes(bytes(len(score.read_bytes())))
    assert main(["check", str(path)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}: damaged store: variable 'seq_onehot' region 0 (sequences 0-1): chunk c/0/0/0 "
        "is missing",
        f"{path}: damaged store: variable 'interaction_score' region 2 (sequences 4-5): chunk "
        "c/2/0/0/0 does not match its checksum",
    ]
