"""TX-Ray Explorer dashboard (serves an analysis database read-only)."""
