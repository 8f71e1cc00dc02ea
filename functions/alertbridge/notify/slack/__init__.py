"""Slack incoming webhooks: the Block Kit message builder next to its config."""
