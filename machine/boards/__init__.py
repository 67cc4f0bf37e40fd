"""Machine boards."""
