"""Dagster code location of the logistics domain: shipment features, the late-delivery model, its predictions."""

from lakemesh import domain_definitions

from domains.logistics import models, products

defs = domain_definitions("logistics", products=products, models=models)
