"""Airbyte source and analytics exporter for the Contract.fit API."""

__version__ = "0.1.0"
