"""Compute beyond one machine: a Java runtime for Spark and a Delta-ready Spark session for any master."""

from lakemesh.compute.java import find_java_home
from lakemesh.compute.spark import (
    forward_spark_lineage,
    spark_conf,
    spark_packages,
    spark_session,
    stop_spark_session,
)

__all__ = [
    "find_java_home",
    "forward_spark_lineage",
    "spark_conf",
    "spark_packages",
    "spark_session",
    "stop_spark_session",
]
