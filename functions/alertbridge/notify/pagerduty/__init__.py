"""notify.pagerduty."""
