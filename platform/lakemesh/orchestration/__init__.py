"""Orchestration: Dagster definitions per domain, the whole-mesh run, and storage maintenance jobs."""
