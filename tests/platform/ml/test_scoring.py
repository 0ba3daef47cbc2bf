"""Scoring one partition: only its rows are scored, and drift is judged on the scored population through it (a day's
handful of rows alone would drift by chance)."""

from datetime import date

from lakemesh import Settings
from lakemesh.ml.features import FeatureSource
from lakemesh.ml.registry import LoadedModel
from lakemesh.ml.scoring import score
from lakemesh.ml.training import train_model
from lakemesh.storage.commit import PartitionWindow

from .conftest import declared, features_frame, publish_features


def test_a_partition_scores_its_rows_and_judges_drift_on_the_period_through_it(settings: Settings, ml_project):
    contract = ml_project["features"]
    version = publish_features(settings, contract, features_frame())
    spec = declared()
    source = FeatureSource.open(spec, contract, version=version, settings=settings)
    trained = train_model(source, device="cpu")
    model = LoadedModel(name=spec.registered_name, version=1, booster=trained.booster, encoding=trained.encoding,
                        baseline=trained.baseline)  # fmt: skip
    day = date(1998, 6, 30)  # in the held-out period (from SPLIT on)
    window = PartitionWindow(key=day.isoformat(), column="ship_date", first=day, end=date(1998, 7, 1))

    one_day = score(source, model, keys=["order_key", "ship_date"], within=window)

    rows = features_frame()
    expected = sorted(rows.filter(rows["ship_date"] == day)["order_key"].to_list())
    assert sorted(one_day.predictions.column("order_key").to_pylist()) == expected and 0 < len(expected) < 20
    assert max(one_day.psi.values()) < 0.1  # the same population as training: no drift, measured on ~2000 rows
    whole = score(source, model, keys=["order_key"])
    assert one_day.psi != whole.psi  # measured through the partition's end, not over every scored day

    before = date(1996, 6, 30)  # a day of the training period: nothing of it is scored
    window = PartitionWindow(key=before.isoformat(), column="ship_date", first=before, end=date(1996, 7, 1))
    empty = score(source, model, keys=["order_key", "ship_date"], within=window)
    assert empty.predictions.num_rows == 0 and empty.psi == {}
    assert empty.predictions.schema.names == ["order_key", "ship_date", "late_probability", "model_version"]
