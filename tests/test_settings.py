"""Settings: validation, defaults from one place, errors that name the setting."""

from __future__ import annotations

import dataclasses

import pytest

from dfimx.alphabet import DEFAULT_GC
from dfimx.errors import InputError
from dfimx.settings import (
    DEFAULT_METHODS,
    DEFAULT_NULLS,
    DEFAULT_REFERENCES,
    Settings,
    check_execution,
    with_plan_defaults,
)


def test_defaults_and_method_references():
    s = Settings().validate()  # no plan: the element plans' defaults
    assert (s.method, s.reference, s.mutation, s.score, s.null) == (
        "deepshap", "dinuc", "gc", "sum", "context")
    assert s.null_level == "distance"
    assert Settings(null="dinuc").validate().null_level == "global"
    assert s.gc == DEFAULT_GC
    for method, reference in DEFAULT_REFERENCES.items():
        assert Settings(method=method).validate().reference == reference
    assert Settings(method="grad_x_input").validate().reference == "zeros"


@pytest.mark.parametrize("plan", sorted(DEFAULT_METHODS))
def test_plan_defaults_fill_only_what_is_not_given(plan):
    s = with_plan_defaults(Settings(), plan)
    assert (s.method, s.null) == (DEFAULT_METHODS[plan], DEFAULT_NULLS[plan])
    assert s.reference == DEFAULT_REFERENCES[s.method]  # the method's own reference
    given = with_plan_defaults(Settings(method="gradient", null="shuffle"), plan)
    assert (given.method, given.reference, given.null) == ("gradient", "zeros", "shuffle")
    # an unknown plan (or none) gets the element plans' defaults
    assert with_plan_defaults(Settings(), None) == with_plan_defaults(Settings(), "elements")


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
    # finding 10: ranges and types that were accepted and failed later (or never)
    ("n_shuffles", 0, "n_shuffles must be at least 1, got 0"),
    ("n_references", 0, "n_references must be at least 1, got 0"),
    ("null_draws", "8", "must be a whole number, got '8'"),
    ("seed", 1.5, "must be a whole number"),
    ("keep_delta", "false", "must be true or false, got 'false'"),
    ("gc", "0.4", "gc must be a number"),
    ("method", ["deeplift"], "unknown method"),
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


def test_method_steps_must_be_at_least_one():
    with pytest.raises(InputError, match="steps must be at least 1, got 0") as err:
        Settings(method="integrated_gradients", method_options=(("steps", 0),)).validate()
    assert err.value.option == "steps"
    ok = Settings(method="integrated_gradients", method_options=(("steps", 4),)).validate()
    assert dict(ok.method_options) == {"steps": 4}


@pytest.mark.parametrize(("option", "value", "message"), [
    ("chunk_size", -5, "chunk_size must be at least 1, got -5"),
    ("chunk_size", 0, "chunk_size must be at least 1, got 0"),
    ("batch_size", 0, "batch_size must be at least 1, got 0"),
    ("batch_size", 2.5, "batch_size must be a whole number, got 2.5"),
    ("workers", -1, "workers must be at least 0, got -1"),
])
def test_execution_ranges_name_the_setting(option, value, message):
    with pytest.raises(InputError, match=message) as err:
        check_execution(**{option: value})
    assert err.value.option == option
    check_execution(chunk_size=1, batch_size=1, workers=0)
