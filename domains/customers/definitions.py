"""Dagster code location of the customers domain: contracts + Python producers + dbt models."""

from lakemesh import domain_definitions

from domains.customers import products

defs = domain_definitions("customers", products=products)
