"""Settings: validation, defaults from one place, errors that name the setting."""

from __future__ import annotations

import dataclasses

import pytest

from dfimx.alphabet import DEFAULT_GC
from dfimx.errors import InputError
from dfimx.settings import DEFAULT_REFERENCES, Settings


def test_defaults_and_method_references():
    s = Settings().validate()
    assert (s.method, s.reference, s.mutation, s.score, s.null) == (
        "deeplift", "gc", "gc", "sum", "dinuc")
    assert s.gc == DEFAULT_GC
    for method, reference in DEFAULT_REFERENCES.items():
        assert Settings(method=method).validate().reference == reference
    assert Settings(method="grad_x_input").validate().reference == "zeros"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("method", "magic", "unknown method 'magic'"),
    ("reference", "ones", "unknown value 'ones'"),
    ("mutation", "delete", "unknown value 'delete'"),
    ("score", "mean", "unknown value 'mean'"),
    ("null", "flat", "unknown value 'flat'"),
    ("pvalue", "exact", "unknown value 'exact'"),
    ("null_level", "seq", "unknown value 'seq'"),
    ("null_draws", 0, "at least 1"),
    ("gc", 1.5, "between 0 and 1"),
])
def test_bad_settings_name_the_setting_not_a_flag(field, value, message):
    with pytest.raises(InputError, match=message) as err:
        Settings(**{field: value}).validate()
    assert err.value.option == field
    assert str(err.value).startswith(field) and "--" not in str(err.value)


def test_no_null_needs_no_draws_and_attrs_are_the_fields():
    s = Settings(null="none", null_draws=0).validate()
    attrs = s.as_attrs()
    assert set(attrs) == {f.name for f in dataclasses.fields(Settings)}
    assert attrs["method_options"] == {}
