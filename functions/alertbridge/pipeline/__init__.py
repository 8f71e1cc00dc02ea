"""The route an ingest message takes: envelope, adapters, run order, dead letters."""
