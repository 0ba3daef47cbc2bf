"""A model's declaration is checked against its contracts when the domain loads; drift is a known formula."""

import math
from datetime import date

import numpy as np
import pytest
from lakemesh.errors import DefinitionsInvalid
from lakemesh.ml import TimeSplit, check_declaration
from lakemesh.ml.drift import FeatureHistograms, psi
from lakemesh.ml.features import Encoding

from .conftest import declared


def test_a_declared_feature_column_missing_from_the_feature_product_is_refused_naming_it(ml_project):
    spec = declared(feature_columns=["slack_days", "distance"])
    with pytest.raises(DefinitionsInvalid, match=r"shop\.late: feature column distance is not in shop\.features"):
        check_declaration(spec, features=ml_project["features"], predictions=ml_project["predictions"])


def test_a_label_that_is_not_boolean_and_predictions_of_another_shape_are_refused(ml_project):
    with pytest.raises(DefinitionsInvalid, match=r"the label slack_days of shop\.features is not a required boolean"):
        check_declaration(
            declared(label="slack_days", feature_columns=["mode"]),
            features=ml_project["features"],
            predictions=ml_project["predictions"],
        )
    with pytest.raises(DefinitionsInvalid, match=r"have the columns \['order_key', 'score', 'model_version'\]"):
        check_declaration(
            declared(score_column="score"), features=ml_project["features"], predictions=ml_project["predictions"]
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gate": {"accuracy": 0.9}}, "a gate sets minimums for auc, aucpr"),
        ({"gate": {"auc": 1.5}}, r"gate minimums are in \(0, 1\]"),
        ({"feature_columns": ["slack_days", "is_late"]}, "not the label"),
        ({"split": TimeSplit(column="slack_days", validate_from=date(1997, 1, 1))}, "the model's clock"),
        ({"params": {"device": "cuda"}}, r"\['device'\] are the platform's"),
        ({"device": "tpu"}, "device is auto, cuda or cpu"),
        ({"alias": "latest"}, "alias 'latest' is reserved"),
    ],
)
def test_a_declaration_that_cannot_train_is_refused_when_declared(change: dict, message: str):
    with pytest.raises(ValueError, match=message):
        declared(**change)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * math.log(0.9 / 0.5) - 0.4 * math.log(0.1 / 0.5))
    assert psi([1.0, 0.0], [0.0, 1.0]) == pytest.approx(2 * (1 - 1e-4) * math.log(1 / 1e-4), rel=1e-3)  # floored


def test_histograms_bin_numbers_by_edge_categories_by_code_and_missing_apart():
    encoding = Encoding(columns=("x", "mode"), categories={"mode": ("AIR", "SHIP")})
    histograms = FeatureHistograms.empty(encoding, edges={"x": [1.0, 2.0]})
    histograms.add(np.array([[0.5, 0], [1.0, 1], [2.5, np.nan], [np.nan, 1]], dtype=np.float32))
    assert histograms.counts["x"].tolist() == [1, 1, 1, 1]  # <1, [1,2), >=2, missing
    assert histograms.counts["mode"].tolist() == [1, 2, 1]  # AIR, SHIP, missing
