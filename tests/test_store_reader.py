"""Reopening a store: damaged or missing stores are refused with one clear error."""

from __future__ import annotations

import os

import pytest

from dfimx.errors import InputError
from dfimx.store import is_complete, open_result


def test_damaged_store_is_refused_clearly(dfim_result, write_threaded, tmp_path):
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    meta = path / "interaction_score" / "zarr.json"
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not a readable dfimx Zarr store") as err:
        open_result(path)
    assert str(path) in str(err.value)
    meta.unlink()
    with pytest.raises(InputError, match="damaged store") as err:
        open_result(path)
    assert str(path) in str(err.value) and "interaction_score" in str(err.value)
    meta.write_text(text)
    open_result(path)
    os.rename(path / "prediction", tmp_path / "moved")
    with pytest.raises(InputError, match=r"damaged store: variable\(s\) \['prediction'\]"):
        open_result(path)
    with pytest.raises(InputError, match="store not found"):
        open_result(tmp_path / "nothing.zarr")


def test_is_complete_is_false_for_anything_unfinished(tmp_path):
    assert not is_complete(tmp_path / "missing.zarr")
    (tmp_path / "empty.zarr").mkdir()
    assert not is_complete(tmp_path / "empty.zarr")
