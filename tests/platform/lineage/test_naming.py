"""Datasets are named by their storage, as the OpenLineage naming spec (and Spark's listener) names them."""

import pytest
from lakemesh.lineage import quarantine_dataset, storage_dataset


@pytest.mark.parametrize(
    ("uri", "dataset"),
    [
        ("/lake/sales/orders/", ("file", "/lake/sales/orders")),
        ("file:///lake/sales/orders", ("file", "/lake/sales/orders")),
        ("s3a://bucket/lake/sales/orders", ("s3://bucket", "lake/sales/orders")),
        ("gs://bucket/lake/sales/orders/", ("gs://bucket", "lake/sales/orders")),
    ],
)
def test_a_table_is_named_by_its_storage(uri: str, dataset: tuple[str, str]):
    assert storage_dataset(uri) == dataset


def test_a_quarantine_is_a_private_dataset_of_its_domain():
    assert quarantine_dataset("sales.orders") == "sales._quarantine_orders"
