"""ML assets: a model declared like a product, trained with XGBoost from pinned Delta versions, registered in
MLflow, its predictions published as a product and its inputs watched for drift."""

from lakemesh.ml.spec import DriftThresholds, ModelSpec, TimeSplit, check_declaration, xgboost_model

__all__ = ["DriftThresholds", "ModelSpec", "TimeSplit", "check_declaration", "xgboost_model"]
