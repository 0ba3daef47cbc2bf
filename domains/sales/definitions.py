"""Dagster code location of the sales domain: contracts + Python producers + dbt models."""

from lakemesh import domain_definitions

from domains.sales import products

defs = domain_definitions("sales", products=products)
