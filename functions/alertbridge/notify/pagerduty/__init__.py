"""PagerDuty Events v2: the event builder next to its config."""
