"""Opsgenie Alerts API v2: create and close-by-alias requests next to their config."""
