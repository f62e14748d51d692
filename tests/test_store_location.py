"""Where stores live: paths and URLs; nothing that is not a store is ever overwritten."""

from __future__ import annotations

import json

import pytest

from dfimx.errors import InputError
from dfimx.store import is_complete
from dfimx.store.location import is_url, local_path, looks_like_zarr


def test_paths_and_urls(tmp_path):
    assert is_url("s3://b/run.zarr") and is_url("memory://x") and not is_url(str(tmp_path))
    assert local_path("file:///tmp/x.zarr") == "/tmp/x.zarr"
    assert looks_like_zarr(str(tmp_path), None)  # an empty folder may become a store
    (tmp_path / "notes.txt").write_text("x")
    assert not looks_like_zarr(str(tmp_path), None)


def test_refuses_to_overwrite_what_is_not_a_store(dfim_result, write_threaded, tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("do not delete")
    with pytest.raises(InputError, match="not a Zarr store"):
        write_threaded(dfim_result(), keep)
    assert (keep / "notes.txt").exists()
    resumed = tmp_path / "fresh.zarr"  # --resume with no store yet starts a new one
    write_threaded(dfim_result(), resumed, resume=True)
    assert is_complete(resumed)
    json.loads((resumed / "zarr.json").read_text())
