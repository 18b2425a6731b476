"""write_side."""
