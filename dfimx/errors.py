"""Exceptions that the command line turns into one clear line and exit status 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: names the file, the record and the problem.

    Library code speaks in the names of settings and arguments, not command-line flags:
    ``option`` names the setting at fault (``"null_draws"``), and the command line shows
    it as its flag (``--null-draws``).

    Examples
    --------
    >>> raise InputError("seqs.fa: record 'x' position 3: invalid character 'Z'")
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: seqs.fa: record 'x' position 3: invalid character 'Z'
    >>> InputError("must be at least 1", option="null_draws").option
    'null_draws'
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option

    def __reduce__(self):  # keep ``option`` across process boundaries (Dask workers)
        return (_rebuild, (str(self), self.option))


def _rebuild(message: str, option: str | None) -> InputError:
    return InputError(message, option=option)
