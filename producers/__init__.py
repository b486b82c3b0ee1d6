"""encore: producers."""
