"""Producers: Python functions, dbt models (and Spark) that make products, all through the one publish path."""

from lakemesh.producers.publish import PublishResult, publish

__all__ = ["PublishResult", "publish"]
