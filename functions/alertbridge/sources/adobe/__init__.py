"""sources.adobe."""
