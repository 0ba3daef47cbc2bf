"""A model's training and scoring data: a feature product at a pinned Delta version, as float32 batches.

Everything is read from Delta as Arrow record batches in the table's file
order and encoded without pandas: numbers as they are, strings as codes of a
vocabulary fixed by the training period (recorded with the model, so scoring
encodes the same way; a value unseen in training is missing). The same pinned
version always yields the same bytes, which `digest` proves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from lakemesh.contracts import Contract
from lakemesh.errors import TrainingRefused
from lakemesh.ml.spec import ModelSpec
from lakemesh.settings import Settings

__all__ = ["Encoding", "FeatureSource", "Period"]


@dataclass(frozen=True, kw_only=True)
class Encoding:
    """How each feature becomes a float32 column of XGBoost's matrix: numbers as they are, strings as codes."""

    columns: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]
    """Per string column, its vocabulary in code order (sorted values of the training period)."""

    @property
    def feature_types(self) -> list[str]:
        """XGBoost's feature types: `c` (categorical) for coded columns, `q` (quantitative) for numbers."""
        return ["c" if column in self.categories else "q" for column in self.columns]

    def encode(self, batch: pa.RecordBatch) -> np.ndarray:
        """A (rows, features) float32 matrix of `batch`; nulls and unseen categories are NaN (missing)."""
        matrix = np.empty((batch.num_rows, len(self.columns)), dtype=np.float32)
        for j, column in enumerate(self.columns):
            values = batch.column(column)
            if column in self.categories:
                values = _codes(values, pa.array(self.categories[column], type=pa.large_string()))
            matrix[:, j] = values.to_numpy(zero_copy_only=False)
        return matrix

    def to_json(self) -> str:
        return json.dumps(
            {"columns": list(self.columns), "categories": {k: list(v) for k, v in self.categories.items()}}
        )

    @classmethod
    def from_json(cls, text: str) -> Encoding:
        document = json.loads(text)
        categories = {k: tuple(v) for k, v in document["categories"].items()}
        return cls(columns=tuple(document["columns"]), categories=categories)


@dataclass(frozen=True, kw_only=True)
class Period:
    """The rows of one side of the model's time split."""

    name: str
    filter: ds.Expression


@dataclass(frozen=True, kw_only=True)
class FeatureSource:
    """The feature product of a model at one pinned Delta version."""

    spec: ModelSpec
    contract: Contract
    version: int
    dataset: ds.Dataset

    @classmethod
    def open(cls, spec: ModelSpec, contract: Contract, *, version: int, settings: Settings) -> FeatureSource:
        """The features at `version`; refused, naming the column, when a declared column is not in that version."""
        table = DeltaTable(settings.table_uri(spec.features), version=version, storage_options=settings.storage_options)
        strings = [field.name for field in pa.schema(table.schema().to_arrow()) if _is_text(field.type)]
        # strings read as Parquet stores them, a dictionary per page: coded without being spelt out
        dataset = table.to_pyarrow_dataset(parquet_read_options=ds.ParquetReadOptions(dictionary_columns=strings))
        wanted = [*spec.feature_columns, spec.label, spec.split.column]
        missing = [column for column in wanted if column not in dataset.schema.names]
        if missing:
            raise TrainingRefused(
                f"{spec.registered_name}: {spec.features} version {version} has no column {', '.join(missing)} "
                f"(declared by the model); nothing was trained"
            )
        return cls(spec=spec, contract=contract, version=version, dataset=dataset)

    def before(self, day: date) -> Period:
        return Period(name=f"before {day}", filter=ds.field(self.spec.split.column) < _day(day))

    def since(self, day: date) -> Period:
        return Period(name=f"from {day}", filter=ds.field(self.spec.split.column) >= _day(day))

    @property
    def training(self) -> Period:
        return self.before(self.spec.split.validate_from)

    @property
    def validation(self) -> Period:
        return self.since(self.spec.split.validate_from)

    def rows(self, period: Period) -> int:
        return self.dataset.count_rows(filter=period.filter)

    def batches(self, period: Period, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """The period's rows, in the table's file order, a bounded batch at a time."""
        scanner = self.dataset.scanner(
            columns=columns, filter=period.filter, batch_size=self.spec.batch_rows, use_threads=False
        )
        yield from (batch for batch in scanner.to_batches() if batch.num_rows)

    def encoding(self) -> Encoding:
        """The vocabulary of every string feature, as seen in the training period (one pass)."""
        strings = [c for c in self.spec.feature_columns if _is_text(self.dataset.schema.field(c).type)]
        seen: dict[str, set[str]] = {column: set() for column in strings}
        if strings:
            for batch in self.batches(self.training, strings):
                for column in strings:
                    values = pc.cast(pc.unique(batch.column(column)), pa.large_string())
                    seen[column].update(v for v in values.to_pylist() if v is not None)
        return Encoding(columns=self.spec.feature_columns, categories={c: tuple(sorted(v)) for c, v in seen.items()})

    def refuse_invalid(self, matrix: np.ndarray, encoding: Encoding, *, outcome: str) -> None:
        """Refuse a batch XGBoost cannot take or the contract forbids, naming the first such column.

        XGBoost reads NaN as missing but stops at an infinite number (a float32 overflow included), whatever
        the contract says; a null or NaN breaks the contract only in a required column. A missing category
        is fine (an unseen value is one).
        """
        spec, required = self.spec, {column.name for column in self.contract.columns if column.required}
        for j, column in enumerate(encoding.columns):
            if column in encoding.categories:
                continue
            values, feature = matrix[:, j], f"feature {column} of {spec.features} version {self.version}"
            if infinite := int(np.isinf(values).sum()):
                raise TrainingRefused(
                    f"{spec.registered_name}: {feature} holds infinite values (at least {infinite}; ±inf, or beyond "
                    f"float32's range), but XGBoost needs finite numbers (null and NaN it reads as missing); bound "
                    f"{column} (minimum and maximum) in the contract of {spec.features}, whose gate then refuses "
                    f"them, or filter them out upstream; nothing was {outcome}"
                )
            if column in required and (missing := int(np.isnan(values).sum())):
                raise TrainingRefused(
                    f"{spec.registered_name}: {feature} holds null or NaN values (at least {missing}), which its "
                    f"contract forbids ({column} is required); nothing was {outcome}"
                )


def _codes(values: pa.Array, vocabulary: pa.Array) -> pa.Array:
    """Each value's position in `vocabulary` (null when absent); a dictionary array is mapped once per entry."""
    if pa.types.is_dictionary(values.type):
        mapped = pc.index_in(pc.cast(values.dictionary, pa.large_string()), value_set=vocabulary)
        return pc.take(mapped, values.indices)
    return pc.index_in(pc.cast(values, pa.large_string()), value_set=vocabulary)


def _day(value: date) -> pa.Scalar:
    return pa.scalar(value, type=pa.date32())


def _is_text(kind: pa.DataType) -> bool:
    """Strings however a Delta reader hands them back (plain, large, view or dictionary-encoded)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
