"""Registry of the variables of the dfimx data contract, and validation.

Each variable is described once (name, dims, dtype kind, doc) in the style of
sgkit's ``variables.py``; :func:`validate` checks a dataset against it.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from dfimx import variables
>>> ds = xr.Dataset({"seq_id": ("seq", np.array(["a", "b"], dtype=object))})
>>> _ = variables.validate(ds, "seq_id")
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr


class DatasetValidationError(ValueError):
    """A dataset does not match the dfimx data contract."""


@dataclass(frozen=True)
class Spec:
    """Specification of one variable of the data contract."""

    name: str
    dims: tuple[str, ...]
    kind: str  # numpy dtype kinds accepted, e.g. "f", "iu", "b", "OUT" (string)
    doc: str

    def validate(self, ds: xr.Dataset) -> None:
        """Raise :class:`DatasetValidationError` if ``ds[self.name]`` does not match."""
        if self.name not in ds:
            raise DatasetValidationError(f"variable {self.name!r} is missing from the dataset")
        var = ds[self.name]
        if tuple(var.dims) != self.dims:
            raise DatasetValidationError(
                f"variable {self.name!r} has dims {tuple(var.dims)}, expected {self.dims}"
            )
        if var.dtype.kind not in self.kind:
            raise DatasetValidationError(
                f"variable {self.name!r} has dtype {var.dtype}, expected kind {self.kind!r}"
            )


STR = "OUT"
SPECS: dict[str, Spec] = {}


def _spec(name: str, dims: tuple[str, ...], kind: str, doc: str) -> Spec:
    spec = Spec(name, dims, kind, doc)
    SPECS[name] = spec
    return spec


seq_id = _spec("seq_id", ("seq",), STR, "Sequence name (FASTA id, variant id).")
seq_onehot = _spec(
    "seq_onehot", ("seq", "position", "base"), "uf",
    "One-hot sequence, bases A C G T; N and ambiguous bases are all-zero rows.",
)
seq_length = _spec(
    "seq_length", ("seq",), "iu", "Number of real positions of each sequence (before padding)."
)
mutation_start = _spec(
    "mutation_start", ("seq", "mutation"), "i", "0-based start of the source interval."
)
mutation_end = _spec(
    "mutation_end", ("seq", "mutation"), "i", "0-based exclusive end of the source interval."
)
mutation_name = _spec(
    "mutation_name", ("seq", "mutation"), STR, "Source label (motif name, C>T, ...)."
)
mutation_alt = _spec(
    "mutation_alt", ("seq", "mutation"), "i",
    "Alternative base code 0-3 for single-base sources, -1 for element replacement.",
)
mutation_mask = _spec(
    "mutation_mask", ("seq", "mutation"), "b", "True where a real source exists."
)
response_start = _spec(
    "response_start", ("seq", "response"), "i", "0-based start of the target interval."
)
response_end = _spec(
    "response_end", ("seq", "response"), "i", "0-based exclusive end of the target interval."
)
response_name = _spec("response_name", ("seq", "response"), STR, "Target label.")
response_mask = _spec(
    "response_mask", ("seq", "response"), "b", "True where a real target exists."
)
prediction = _spec(
    "prediction", ("seq", "task"), "f", "Model output on the original (the scored output)."
)
mutant_prediction = _spec(
    "mutant_prediction", ("seq", "mutation", "task"), "f", "Model output on each mutant."
)
seq_importance = _spec(
    "seq_importance", ("seq", "position", "base", "task"), "f", "Attribution of the original."
)
delta = _spec(
    "delta", ("seq", "mutation", "position", "base", "task"), "f",
    "Importance(original) - importance(mutant); zero inside the mutated source.",
)
interaction_profile = _spec(
    "interaction_profile", ("seq", "mutation", "position", "task"), "f",
    "Delta summed over bases at every target position (NaN inside the source).",
)
interaction_score = _spec(
    "interaction_score", ("seq", "mutation", "response", "task"), "f",
    "Feature interaction score; NaN on padding and on self/overlapping pairs.",
)
interaction_p_value = _spec(
    "interaction_p_value", ("seq", "mutation", "response", "task"), "f",
    "p-value of the interaction score against the null.",
)
interaction_q_value = _spec(
    "interaction_q_value", ("seq", "mutation", "response", "task"), "f",
    "Benjamini-Hochberg q-value of the interaction score.",
)
symmetric_score = _spec(
    "symmetric_score", ("seq", "mutation", "response", "task"), "f",
    "Mean of the scores of a -> b and b -> a (element plans); NaN without both directions.",
)
symmetric_p_value = _spec(
    "symmetric_p_value", ("seq", "mutation", "response", "task"), "f",
    "p-value of the symmetric score against the symmetric null.",
)
symmetric_q_value = _spec(
    "symmetric_q_value", ("seq", "mutation", "response", "task"), "f",
    "Benjamini-Hochberg q-value of the symmetric score.",
)
null_symmetric_score = _spec(
    "null_symmetric_score", ("seq", "mutation", "response", "task", "null"), "f",
    "Symmetric scores of the null draws.",
)
null_interaction_score = _spec(
    "null_interaction_score", ("seq", "mutation", "response", "task", "null"), "f",
    "Interaction scores on shuffled sequences with the same coordinates.",
)


def validate(ds: xr.Dataset, *names: Hashable | Iterable[Hashable]) -> xr.Dataset:
    """Check that the named variables of ``ds`` follow the data contract.

    Parameters
    ----------
    ds
        Dataset to check.
    *names
        Variable names (or iterables of names); all registered variables present
        in ``ds`` are checked when none is given.

    Returns
    -------
    The same dataset, for chaining.
    """
    flat: list[str] = []
    for n in names:
        if isinstance(n, str):
            flat.append(n)
        else:
            flat.extend(str(x) for x in n)  # type: ignore[union-attr]
    if not flat:
        flat = [n for n in SPECS if n in ds]
    for n in flat:
        if n not in SPECS:
            raise DatasetValidationError(f"{n!r} is not a registered dfimx variable")
        SPECS[n].validate(ds)
    return ds


def string_array(values: Iterable[object]) -> np.ndarray:
    """Object array of Python strings (what Zarr v3 stores as variable-length strings).

    Examples
    --------
    >>> string_array([1, "b"]).tolist()
    ['1', 'b']
    """
    return np.array([str(v) for v in values], dtype=object)


def as_str(values: Any) -> np.ndarray:
    """Object array of Python ``str`` from any string array (object, ``<U``, StringDType),
    keeping its shape.

    Examples
    --------
    >>> as_str(np.array([["a", "b"]])).dtype, as_str(np.array([["a", "b"]])).shape
    (dtype('O'), (1, 2))
    """
    arr = np.asarray(values)
    out = np.empty(arr.shape, dtype=object)
    out.ravel()[:] = [str(v) for v in arr.ravel()]
    return out


def variable_strings(values: Any) -> np.ndarray:
    """Variable-length strings (NumPy ``StringDType``) that xarray writes to Zarr v3 as
    strings without loading a Dask array, and that ``xr.open_zarr`` gives back as ``str``.

    Examples
    --------
    >>> variable_strings(["a", 3]).dtype
    StringDType()
    """
    return np.asarray(values, dtype=object).astype(str).astype(np.dtypes.StringDType())
