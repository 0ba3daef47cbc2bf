"""Producers: what makes products (Python and Spark functions, dbt models) and the one path that publishes them.

Nothing here knows Dagster: the orchestration turns each producer into assets and calls `publish`.
"""

from lakemesh.producers.domain import Domain, domain_contracts, load_domain
from lakemesh.producers.gate import judge_published
from lakemesh.producers.inputs import pin_inputs
from lakemesh.producers.producer import Producer, ProductBuild
from lakemesh.producers.publish import PublishResult, publish

__all__ = [
    "Domain",
    "Producer",
    "ProductBuild",
    "PublishResult",
    "domain_contracts",
    "judge_published",
    "load_domain",
    "pin_inputs",
    "publish",
]
