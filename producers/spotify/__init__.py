"""encore: producers/spotify."""
