"""The partner ingest HTTP API."""
