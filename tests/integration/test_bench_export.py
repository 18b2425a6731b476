"""`bench/export.py` runs end to end on a few rows (a smoke test, seconds): both formats
exported whole beside DuckDB's own COPY, its JSON and its table."""

from __future__ import annotations

from tests.integration.benches import run_bench


def test_bench_export_runs_on_a_few_rows() -> None:
    result, table = run_bench("export.py", "--devices", "3", "--minutes", "200", "--chunk", "100")
    assert result["rows"] == 600
    for format in ("csv", "parquet"):
        assert result[format]["exporter_rows"] == 600, result
        assert result[format]["exporter_rows_per_s"] > 0, result
        assert result[format]["duckdb_copy_rows_per_s"] > 0, result
        assert result[format]["exporter_bytes"] > 0
    assert "| parquet |" in table
