"""The REST API: devices (per the seed's endpoint list) and health."""
