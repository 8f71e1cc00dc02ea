"""sources.informatica."""
