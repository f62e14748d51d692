"""Registry of every variable dfimx writes, and validation against it.

Each variable is described once (name, dims, dtype, role, doc, and the ``long_name`` /
``units`` attrs it is written with), in the style of sgkit's ``variables.py``.  Stage
functions validate their inputs with :func:`validate` and create their outputs with
:func:`create_variable`, so dims, dtypes and attrs come from one place.  Roles:
``input`` (sequences and plans), ``output`` (computed by DFIM), ``statistic``
(p- and q-values), ``store`` (bookkeeping of the Zarr store).

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"seq_id": ("seq", np.array(["a", "b"], dtype=object))})
>>> _ = validate(ds, "seq_id")
>>> create_variable("prediction", np.zeros((2, 1), "float32")).attrs["long_name"]
'model output on the original'
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from dfimx.errors import InputError


class DatasetValidationError(InputError):
    """A dataset does not match the dfimx data contract (an :class:`InputError`: the command
    line shows it as one line)."""


#: dtype kinds of string variables (object, fixed-width and NumPy's StringDType).
STR = "OUT"


@dataclass(frozen=True)
class Spec:
    """Specification of one variable of the data contract.

    ``kind`` lists the accepted NumPy dtype kinds (``"f"``, ``"iu"``, ``"b"``, :data:`STR`);
    ``dtype`` is the dtype dfimx writes it with.
    """

    name: str
    dims: tuple[str, ...]
    kind: str
    doc: str
    dtype: Any = None
    role: str = "input"
    long_name: str = ""
    units: str = ""

    @property
    def attrs(self) -> dict[str, str]:
        """The attrs written with the variable (``long_name``, ``units``, ``description``)."""
        out = {"long_name": self.long_name or self.doc.rstrip(".").split(";")[0].lower(),
               "description": self.doc}
        if self.units:
            out["units"] = self.units
        return out

    def validate(self, ds: xr.Dataset, source: str | None = None) -> None:
        """Raise :class:`DatasetValidationError` if ``ds[self.name]`` does not match."""
        where = f"{source}: " if source else ""
        if self.name not in ds:
            raise DatasetValidationError(
                f"{where}variable {self.name!r} is missing from the dataset")
        var = ds[self.name]
        if tuple(var.dims) != self.dims:
            raise DatasetValidationError(
                f"{where}variable {self.name!r} has dims {tuple(var.dims)}, expected {self.dims}"
            )
        if var.dtype.kind not in self.kind:
            raise DatasetValidationError(
                f"{where}variable {self.name!r} has dtype {var.dtype}, expected kind "
                f"{self.kind!r}"
            )


SPECS: dict[str, Spec] = {}

_DTYPES = {"f": np.float32, "i": np.int64, "iu": np.int64, "b": np.bool_, STR: object,
           "uf": np.float32}


def _spec(name: str, dims: tuple[str, ...], kind: str, doc: str, *, role: str = "input",
          long_name: str = "", units: str = "", dtype: Any = None) -> Spec:
    spec = Spec(name, dims, kind, doc, dtype if dtype is not None else _DTYPES[kind], role,
                long_name, units)
    SPECS[name] = spec
    return spec


S, SP, SPB = ("seq",), ("seq", "position"), ("seq", "position", "base")
SM, SR, SMR = ("seq", "mutation"), ("seq", "response"), ("seq", "mutation", "response")
SCORE = ("seq", "mutation", "response", "task")
NULL = SCORE + ("null",)
BP = "bp (0-based)"

# sequences
seq_id = _spec("seq_id", S, STR, "Sequence name (FASTA id, variant id).")
seq_onehot = _spec("seq_onehot", SPB, "uf",
                   "One-hot sequence, bases A C G T; N and ambiguous bases are all-zero rows.",
                   long_name="one-hot sequence")
seq_length = _spec("seq_length", S, "iu",
                   "Number of real positions of each sequence (before padding).", units="bp")
seq_offset = _spec("seq_offset", S, "i", "Record position of window position 0 (> 0 where "
                   "cropped, < 0 where padded).", long_name="window offset in the record", units=BP)
# plans: sources and targets
mutation_start = _spec("mutation_start", SM, "i", "0-based start of the source interval.",
                       units=BP)
mutation_end = _spec("mutation_end", SM, "i", "0-based exclusive end of the source interval.",
                     units=BP)
mutation_name = _spec("mutation_name", SM, STR, "Source label (motif name, C>T, ...).")
mutation_alt = _spec("mutation_alt", SM, "i",
                     "Alternative base code 0-3 for single-base sources, -1 for element "
                     "replacement.", dtype=np.int8)
mutation_mask = _spec("mutation_mask", SM, "b", "True where a real source exists.")
response_start = _spec("response_start", SR, "i", "0-based start of the target interval.",
                       units=BP)
response_end = _spec("response_end", SR, "i", "0-based exclusive end of the target interval.",
                     units=BP)
response_name = _spec("response_name", SR, STR, "Target label.")
response_mask = _spec("response_mask", SR, "b", "True where a real target exists.")
pair_mask = _spec("pair_mask", SMR, "b",
                  "True for the (source, target) pairs a mut_dict record asked for.")
# variant windows
window_start = _spec("window_start", S, "i",
                     "0-based genome position of the first base of the window.", units=BP)
window_valid = _spec("window_valid", SP, "b",
                     "True where the window lies inside its contig (False on padding).")
window_chrom = _spec("window_chrom", S, STR, "Chromosome of the genome window (BED input).")
interval_name = _spec("interval_name", S, STR, "Name of the BED interval the window is "
                      "centred on (its chrom:start-end when the BED has no name column).")
variant_chrom = _spec("variant_chrom", S, STR, "Chromosome of the variant.")
variant_pos = _spec("variant_pos", S, "i", "1-based position of the variant, as in the VCF.",
                    units="bp (1-based)")
variant_ref = _spec("variant_ref", S, STR, "Reference allele.")
variant_alt = _spec("variant_alt", S, STR, "Alternative allele.")
variant_id = _spec("variant_id", S, STR, "Variant id (VCF ID or chrom:pos:ref:alt).")
target_kind = _spec("target_kind", SR, STR,
                    "Kind of target of a variant window: motif (a motif hit) or variant "
                    "(another variant site).")
target_chrom = _spec("target_chrom", S, STR, "Chromosome of the targets of a variant window.")
target_start = _spec("target_start", SR, "i", "0-based genome start of the target; -1 on "
                     "padding.", units=BP)
target_end = _spec("target_end", SR, "i", "0-based exclusive genome end of the target; -1 on "
                   "padding.", units=BP)
motif_targets_found = _spec("motif_targets_found", S, "i",
                            "Motif hits found in the window before truncation to the target "
                            "limit.")
cis_variants_found = _spec("cis_variants_found", S, "i",
                           "Other variant sites found in the window before truncation.")
# DFIM outputs
prediction = _spec("prediction", ("seq", "task"), "f",
                   "Model output on the original (the scored output, e.g. the logit).",
                   role="output", long_name="model output on the original")
summation_delta = _spec("summation_delta", S, "f",
                        "Largest relative summation-to-delta violation of the attributions "
                        "computed with the sequence's chunk (DeepLIFT, DeepSHAP; the "
                        "completeness error of integrated gradients).", role="output",
                        long_name="summation-to-delta violation")
mutant_prediction = _spec("mutant_prediction", ("seq", "mutation", "task"), "f",
                          "Model output on each mutant.", role="output")
seq_importance = _spec("seq_importance", ("seq", "position", "base", "task"), "f",
                       "Attribution of the original.", role="output")
delta = _spec("delta", ("seq", "mutation", "position", "base", "task"), "f",
              "Importance(original) - importance(mutant); zero inside the mutated source.",
              role="output", long_name="delta profile")
interaction_profile = _spec("interaction_profile", ("seq", "mutation", "position", "task"), "f",
                            "Delta summed over bases at every target position (NaN inside the "
                            "source).", role="output", long_name="interaction profile")
interaction_score = _spec("interaction_score", SCORE, "f",
                          "Feature interaction score; NaN on padding and on self/overlapping "
                          "pairs.", role="output", long_name="feature interaction score")
symmetric_score = _spec("symmetric_score", SCORE, "f",
                        "Mean of the scores of a -> b and b -> a (element plans); NaN without "
                        "both directions.", role="output", long_name="symmetric interaction score")
null_interaction_score = _spec("null_interaction_score", NULL, "f",
                               "Null interaction scores: on shuffled sequences with the "
                               "same coordinates (dinuc, shuffle) or of distance-matched decoy "
                               "sources in the real sequence (context).", role="output",
                               long_name="null interaction score")
null_decoy_start = _spec("null_decoy_start", ("seq", "mutation", "null"), "i",
                         "Context null: 0-based start of each decoy source (one per source and "
                         "draw); null scores are pooled by the decoy's distance to the target.",
                         role="output")
null_decoy_end = _spec("null_decoy_end", ("seq", "mutation", "null"), "i",
                       "Context null: end (exclusive) of each decoy source.", role="output")
null_decoy_widening = _spec("null_decoy_widening", SM, "i",
                            "Context null: distance bins the decoys of a source were widened "
                            "by (largest over draws) because no position in the pair's own bin "
                            "was free; 0 matched exactly, -1 no decoy could be placed.",
                            role="output")
null_symmetric_score = _spec("null_symmetric_score", NULL, "f",
                             "Symmetric scores of the null draws.", role="output")
# statistics
interaction_p_value = _spec("interaction_p_value", SCORE, "f",
                            "p-value of the interaction score against the null.",
                            role="statistic", long_name="p-value")
interaction_q_value = _spec("interaction_q_value", SCORE, "f",
                            "Benjamini-Hochberg q-value of the interaction score.",
                            role="statistic", long_name="q-value")
interaction_effect_size = _spec("interaction_effect_size", SCORE, "f",
                                "Interaction score standardised by its null pool: (score - "
                                "mean) / sd of the pool's null scores.", role="statistic",
                                long_name="effect size")
symmetric_p_value = _spec("symmetric_p_value", SCORE, "f",
                          "p-value of the symmetric score against the symmetric null.",
                          role="statistic", long_name="p-value of the symmetric score")
symmetric_q_value = _spec("symmetric_q_value", SCORE, "f",
                          "Benjamini-Hochberg q-value of the symmetric score.",
                          role="statistic", long_name="q-value of the symmetric score")
symmetric_effect_size = _spec("symmetric_effect_size", SCORE, "f",
                              "Symmetric score standardised by its null pool.",
                              role="statistic", long_name="effect size of the symmetric score")
# store bookkeeping
region_complete = _spec("region_complete", ("region",), "b",
                        "True for each region (a chunk of sequences) written completely.",
                        role="store")


def names_with_role(role: str) -> tuple[str, ...]:
    """Registered variable names with ``role`` (``input``, ``output``, ``statistic``, ``store``).

    Examples
    --------
    >>> names_with_role("statistic")[:2]
    ('interaction_p_value', 'interaction_q_value')
    """
    return tuple(n for n, s in SPECS.items() if s.role == role)


def _flat(names: tuple[Hashable | Iterable[Hashable], ...]) -> list[str]:
    flat: list[str] = []
    for n in names:
        if isinstance(n, str):
            flat.append(n)
        else:
            flat.extend(str(x) for x in n)  # type: ignore[union-attr]
    return flat


def validate(ds: xr.Dataset, *names: Hashable | Iterable[Hashable],
             source: str | None = None) -> xr.Dataset:
    """Check that the named variables of ``ds`` follow the data contract.

    Parameters
    ----------
    ds
        Dataset to check.
    *names
        Variable names (or iterables of names); all registered variables present
        in ``ds`` are checked when none is given.
    source
        What the dataset is, for the error message (a store path, "a planned dataset").

    Returns
    -------
    The same dataset, for chaining.

    Examples
    --------
    >>> validate(xr.Dataset(), "seq_id", source="x.zarr")
    Traceback (most recent call last):
    ...
    dfimx.variables.DatasetValidationError: x.zarr: variable 'seq_id' is missing from the dataset
    """
    flat = _flat(names) or [n for n in SPECS if n in ds]
    for n in flat:
        if n not in SPECS:
            raise DatasetValidationError(f"{n!r} is not a registered dfimx variable")
        SPECS[n].validate(ds, source)
    return ds


def require(ds: xr.Dataset, name: str, source: str | None = None) -> xr.DataArray:
    """``ds[name]`` after checking it against the registry.

    Examples
    --------
    >>> ds = xr.Dataset({"seq_id": ("seq", np.array(["a"], dtype=object))})
    >>> require(ds, "seq_id").dims
    ('seq',)
    """
    validate(ds, name, source=source)
    return ds[name]


def create_variable(name: str, data: Any) -> xr.Variable:
    """An :class:`xarray.Variable` for the registered ``name``: its dims and attrs, ``data``.

    Raises :class:`DatasetValidationError` if ``data`` has the wrong number of dims.
    """
    spec = SPECS[name]
    if np.ndim(data) != len(spec.dims):
        raise DatasetValidationError(
            f"variable {name!r} needs {len(spec.dims)} dims {spec.dims}, got shape "
            f"{np.shape(data)}")
    return xr.Variable(spec.dims, data, attrs=spec.attrs)


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
