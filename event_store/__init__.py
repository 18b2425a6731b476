"""event_store."""
