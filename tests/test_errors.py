"""Input errors: one message, the setting at fault, intact across processes."""

from __future__ import annotations

import pickle

from dfimx.errors import InputError


def test_option_survives_pickling():
    err = InputError("null_draws must be at least 1", option="null_draws")
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, InputError) and isinstance(again, ValueError)
    assert str(again) == str(err) and again.option == "null_draws"
    assert InputError("plain").option is None
