"""encore: stream_app."""
