"""Training from pinned Delta versions: the same version gives the same bytes; bad training data is refused."""

import math
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from deltalake import write_deltalake
from lakemesh import Settings
from lakemesh.errors import TrainingRefused
from lakemesh.ml import TimeSplit
from lakemesh.ml.features import FeatureSource
from lakemesh.ml.training import train_model

from ..conftest import contract_doc, write_contract
from .conftest import FEATURE_COLUMNS, declared, features_frame, publish_features


def test_the_same_pinned_version_gives_the_same_training_bytes_and_model(settings: Settings, ml_project):
    contract = ml_project["features"]
    first = publish_features(settings, contract, features_frame(seed=1), step="v0")
    publish_features(settings, contract, features_frame(seed=2), step="v1")  # the product moved on
    spec = declared()
    runs = [train_model(FeatureSource.open(spec, contract, version=first, settings=settings), device="cpu")]
    runs.append(train_model(FeatureSource.open(spec, contract, version=first, settings=settings), device="cpu"))
    newer = train_model(FeatureSource.open(spec, contract, version=first + 1, settings=settings), device="cpu")
    uncached = declared(cache_mib=0)  # every XGBoost pass reads Delta again: the same bytes, the same trees
    runs.append(train_model(FeatureSource.open(uncached, contract, version=first, settings=settings), device="cpu"))
    assert runs[0].digest == runs[1].digest == runs[2].digest != newer.digest
    assert runs[0].booster.save_raw() == runs[1].booster.save_raw() == runs[2].booster.save_raw()
    assert runs[0].baseline == runs[2].baseline
    assert runs[0].training_rows + runs[0].validation_rows == 6000
    assert runs[0].device == "cpu"


def test_a_time_split_trains_on_earlier_rows_only_and_the_label_has_signal(settings: Settings, ml_project):
    contract = ml_project["features"]
    frame = features_frame()
    version = publish_features(settings, contract, frame)
    trained = train_model(FeatureSource.open(declared(), contract, version=version, settings=settings), device="cpu")
    earlier = frame.filter(pl.col("ship_date") < declared().split.validate_from).height
    assert (trained.training_rows, trained.validation_rows) == (earlier, frame.height - earlier)
    assert trained.metrics["auc"] > 0.9  # slack against a 1-30 day transit: a strong signal
    assert trained.failed_gate({"auc": 0.8}) == [] and trained.failed_gate({"auc": 0.999})
    assert trained.encoding.categories == {"mode": ("AIR", "MAIL", "SHIP", "TRUCK")}


def test_a_label_with_one_class_in_the_training_period_is_refused(settings: Settings, ml_project):
    contract = ml_project["features"]
    frame = features_frame().with_columns(
        is_late=pl.when(pl.col("ship_date") < declared().split.validate_from).then(False).otherwise(pl.col("is_late"))
    )
    version = publish_features(settings, contract, frame)
    source = FeatureSource.open(declared(), contract, version=version, settings=settings)
    refused = r"the label is_late has one class only before 1997-01-01 \(\d+ rows, all false\)"
    with pytest.raises(TrainingRefused, match=refused):
        train_model(source, device="cpu")


def test_nan_or_infinite_required_features_are_refused_naming_the_column(settings: Settings, ml_project):
    """The gate keeps NaN out of a required number; a table written before that rule is refused at training."""
    contract = ml_project["features"]
    with pytest.raises(Exception, match="discount__finite"):
        publish_features(settings, contract, features_frame().with_columns(discount=pl.lit(math.inf)))
    bad = features_frame().with_columns(discount=pl.when(pl.col("order_key") == 17).then(np.nan).otherwise("discount"))
    write_deltalake(settings.table_uri("shop.features"), bad.to_arrow(), mode="overwrite")
    source = FeatureSource.open(declared(), contract, version=0, settings=settings)
    refused = (
        r"feature discount of shop\.features version 0 holds null or NaN values \(at least 1\), which its contract"
    )
    with pytest.raises(TrainingRefused, match=refused):
        train_model(source, device="cpu")


def test_infinity_in_an_optional_unbounded_feature_is_refused_for_xgboost_not_for_the_contract(
    settings: Settings, project: Path
):
    """The contract allows NaN and inf in an optional number without bounds: NaN is missing to XGBoost, inf is
    refused, and the message says what XGBoost needs and how to keep it out, not that the contract forbids it."""
    optional = [{**c, "required": False} if c["name"] == "discount" else c for c in FEATURE_COLUMNS]
    contract = write_contract(project, contract_doc("shop.features", columns=optional, access="internal"))
    with_nan = features_frame().with_columns(
        discount=pl.when(pl.col("order_key") % 5 == 0).then(np.nan).otherwise("discount")
    )
    nan_only = publish_features(settings, contract, with_nan, step="nan")
    trained = train_model(FeatureSource.open(declared(), contract, version=nan_only, settings=settings), device="cpu")
    assert trained.metrics["auc"] > 0.9
    infinite = with_nan.with_columns(
        discount=pl.when(pl.col("order_key").is_in([3, 4])).then(-math.inf).otherwise("discount")
    )
    version = publish_features(settings, contract, infinite, step="inf")  # the contract's gate lets it through
    with pytest.raises(TrainingRefused) as refused:
        train_model(FeatureSource.open(declared(), contract, version=version, settings=settings), device="cpu")
    assert str(refused.value) == (
        "shop.late: feature discount of shop.features version 1 holds infinite values (at least 2; ±inf, or beyond "
        "float32's range), but XGBoost needs finite numbers (null and NaN it reads as missing); bound discount "
        "(minimum and maximum) in the contract of shop.features, whose gate then refuses them, or filter them out "
        "upstream; nothing was trained"
    )


def test_a_declared_column_missing_from_the_pinned_version_is_refused(settings: Settings, ml_project):
    contract = ml_project["features"]
    write_deltalake(settings.table_uri("shop.features"), features_frame().drop("mode").to_arrow())
    with pytest.raises(TrainingRefused, match=r"shop\.features version 0 has no column mode"):
        FeatureSource.open(declared(), contract, version=0, settings=settings)


def test_a_category_unseen_in_training_is_missing_not_refused(settings: Settings, ml_project):
    contract = ml_project["features"]
    frame = features_frame().with_columns(
        mode=pl.when(pl.col("ship_date") >= declared().split.validate_from).then(pl.lit("RAIL")).otherwise("mode")
    )
    version = publish_features(settings, contract, frame)
    trained = train_model(FeatureSource.open(declared(), contract, version=version, settings=settings), device="cpu")
    assert "RAIL" not in trained.encoding.categories["mode"] and trained.metrics["auc"] > 0.9


def test_an_empty_period_is_refused_by_name(settings: Settings, ml_project):
    contract = ml_project["features"]
    version = publish_features(settings, contract, features_frame())
    spec = declared(split=TimeSplit(column="ship_date", validate_from=date(2001, 1, 1)))
    with pytest.raises(TrainingRefused, match=r"shop\.features version 0 has no rows from 2001-01-01 \(ship_date\)"):
        train_model(FeatureSource.open(spec, contract, version=version, settings=settings), device="cpu")
