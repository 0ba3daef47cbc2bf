"""A small feature product with a learnable label, its contract, and a model declared on it."""

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from lakemesh import Settings, publish
from lakemesh.contracts import Contract
from lakemesh.ml import ModelSpec, TimeSplit, xgboost_model

from ..conftest import contract_doc, write_contract

RUN = "7b2e0c1e-0000-4000-8000-0000000000ab"
SPLIT = date(1997, 1, 1)
FEATURE_COLUMNS = [
    {"name": "order_key", "logicalType": "integer", "physicalType": "bigint", "primaryKey": True, "required": True},
    {"name": "ship_date", "logicalType": "date", "required": True},
    {"name": "slack_days", "logicalType": "integer", "physicalType": "integer", "required": True},
    {"name": "mode", "logicalType": "string", "required": True},
    {"name": "discount", "logicalType": "number", "physicalType": "double", "required": True},
    {"name": "is_late", "logicalType": "boolean", "required": True},
]
PREDICTION_COLUMNS = [
    {"name": "order_key", "logicalType": "integer", "physicalType": "bigint", "primaryKey": True, "required": True},
    {"name": "late_probability", "logicalType": "number", "physicalType": "double", "required": True,
     "logicalTypeOptions": {"minimum": 0, "maximum": 1}},
    {"name": "model_version", "logicalType": "integer", "physicalType": "bigint", "required": True},
]  # fmt: skip


def features_frame(rows: int = 6000, *, seed: int = 7, shift: int = 0) -> pl.DataFrame:
    """Lines shipped over 1995-1998: late when a random transit time (1-30 days) exceeds the slack."""
    rng = np.random.default_rng(seed)
    slack = rng.integers(-5, 60, rows) + shift
    transit = rng.integers(1, 31, rows)
    return pl.DataFrame(
        {
            "order_key": np.arange(rows, dtype=np.int64),
            "ship_date": [date(1995, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 4 * 365, rows)],
            "slack_days": slack.astype(np.int32),
            "mode": rng.choice(["AIR", "MAIL", "SHIP", "TRUCK"], rows),
            "discount": rng.uniform(0, 0.1, rows),
            "is_late": transit > slack,
        }
    )


@pytest.fixture
def ml_project(project: Path, settings: Settings) -> dict[str, Contract]:
    """The features and predictions contracts of the `shop` domain, in the test's own project."""
    features = write_contract(project, contract_doc("shop.features", columns=FEATURE_COLUMNS, access="internal"))
    predictions = contract_doc("shop.predictions", columns=PREDICTION_COLUMNS)
    predictions["customProperties"][2]["value"] = "model"
    return {"features": features, "predictions": write_contract(project, predictions)}


def publish_features(settings: Settings, contract: Contract, frame: pl.DataFrame, *, step: str = "publish") -> int:
    return publish(frame, contract=contract, settings=settings, run_id=RUN, step=step).version


def declared(**changes) -> ModelSpec:
    options = {
        "name": "late",
        "features": "shop.features",
        "label": "is_late",
        "feature_columns": ["slack_days", "mode", "discount"],
        "split": TimeSplit(column="ship_date", validate_from=SPLIT),
        "params": {"max_depth": 3, "learning_rate": 0.3},
        "rounds": 20,
        "gate": {"auc": 0.8},
        "predictions": "shop.predictions",
        "score_column": "late_probability",
        "batch_rows": 1000,
    }
    return xgboost_model(**{**options, **changes})
