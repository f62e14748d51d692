"""The 0.1 import paths still work, with a deprecation warning naming the new home."""

from __future__ import annotations

import importlib
import sys

import pytest

from dfimx import compat


@pytest.mark.parametrize("old", sorted(compat.MOVED))
def test_old_module_paths_warn_and_give_the_same_objects(old):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.")):
        module = importlib.import_module(old)
    for home in compat.MOVED[old]:
        new = importlib.import_module(home)
        for name in getattr(new, "__all__", []):
            assert getattr(module, name) is getattr(new, name)


def test_old_pipeline_names():
    sys.modules.pop("dfimx.pipeline", None)
    with pytest.warns(DeprecationWarning):
        from dfimx.pipeline import Settings, compute_dfim, model_spec_for, provenance
    from dfimx.dfim import compute_dfim as new_compute
    from dfimx.settings import Settings as NewSettings

    assert Settings is NewSettings and compute_dfim is new_compute
    assert callable(model_spec_for) and callable(provenance)
