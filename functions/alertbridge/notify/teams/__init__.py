"""Microsoft Teams via a Workflows webhook: the Adaptive Card builder next to its config."""
