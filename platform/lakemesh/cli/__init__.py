"""The `lakemesh` command line."""

from lakemesh.cli.app import app, main

__all__ = ["app", "main"]
