"""Exceptions that the command line turns into one clear line and exit status 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: names the file, the record and the problem.

    Examples
    --------
    >>> raise InputError("seqs.fa: record 'x' position 3: invalid character 'Z'")
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: seqs.fa: record 'x' position 3: invalid character 'Z'
    """
