"""Dagster code location of the supply domain: contracts + Python producers + dbt models."""

from lakemesh import domain_definitions

from domains.supply import products

defs = domain_definitions("supply", products=products)
