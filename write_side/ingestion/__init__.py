"""The telemetry command handler (one for every transport) and its types."""

from write_side.ingestion.handler import TelemetryIngestion
from write_side.ingestion.results import (
    IngestCounters,
    MessageResult,
    MessageStatus,
    Pending,
    RawHistory,
    Submission,
    Transport,
)

__all__ = [
    "IngestCounters",
    "MessageResult",
    "MessageStatus",
    "Pending",
    "RawHistory",
    "Submission",
    "TelemetryIngestion",
    "Transport",
]
