"""sources.subtask."""
