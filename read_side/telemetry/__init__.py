"""The telemetry read model as one package: raw readings and pre-aggregated rollups per device
and metric. Its rows and time arithmetic (`row`), what one event adds and its pure fold
(`batch`), its ports with the history query and cursors (`port`), and per store the tables with
their writer and their reader side by side (`sqlite`; `dynamodb`, its keys and item codecs
`dynamodb_items`).

The projection stays in `projections.telemetry`: it picks the `Telemetry.BatchRecorded` events
by the name the aggregate's module exports, which `read_side` must not import. The names below
are re-exported because the API, the composition root and the tests import them from
`read_side.telemetry`.
"""

from read_side.telemetry.batch import DeviceBatch, fold
from read_side.telemetry.port import (
    DEFAULT_HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_RANGE,
    HistoryQuery,
    TelemetryReader,
    TelemetryView,
    bucket_range,
    decode_bucket_cursor,
    decode_reading_cursor,
    encode_bucket_cursor,
    encode_reading_cursor,
    telemetry_topic,
)
from read_side.telemetry.row import (
    BUCKET_SECONDS,
    ROLLUP_RESOLUTIONS,
    Bucket,
    RawReading,
    Resolution,
    bucket_start,
    epoch_ms,
    from_epoch_ms,
)

__all__ = [
    "BUCKET_SECONDS",
    "DEFAULT_HISTORY_PAGE",
    "MAX_HISTORY_PAGE",
    "MAX_RANGE",
    "ROLLUP_RESOLUTIONS",
    "Bucket",
    "DeviceBatch",
    "HistoryQuery",
    "RawReading",
    "Resolution",
    "TelemetryReader",
    "TelemetryView",
    "bucket_range",
    "bucket_start",
    "decode_bucket_cursor",
    "decode_reading_cursor",
    "encode_bucket_cursor",
    "encode_reading_cursor",
    "epoch_ms",
    "fold",
    "from_epoch_ms",
    "telemetry_topic",
]
