"""encore: api."""
