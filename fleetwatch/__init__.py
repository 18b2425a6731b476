"""fleetwatch."""
