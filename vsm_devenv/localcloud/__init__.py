"""Local cloud (placeholder)."""
