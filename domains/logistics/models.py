"""The logistics domain's model: will an order line arrive after the promised day, known on the day it ships?"""

from datetime import date

from lakemesh.ml import DriftThresholds, TimeSplit, xgboost_model

late_delivery = xgboost_model(
    name="late_delivery",
    features="logistics.shipment_features",
    label="is_late",
    feature_columns=[
        "days_order_to_ship",
        "days_order_to_commit",
        "slack_days",
        "ship_mode",
        "ship_instruct",
        "order_priority",
        "quantity",
        "discount",
        "part_size",
        "part_type",
        "supplier_nation",
        "customer_nation",
    ],
    split=TimeSplit(column="ship_date", validate_from=date(1997, 7, 1)),
    params={"max_depth": 6, "learning_rate": 0.2, "min_child_weight": 5},
    rounds=60,
    gate={"auc": 0.8},
    predictions="logistics.late_delivery_predictions",
    score_column="late_probability",
    drift=DriftThresholds(warn=0.1, fail=0.25),
)
