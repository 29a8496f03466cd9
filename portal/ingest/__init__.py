"""RSSI report ingestion: formats, validation, and the per-client reading store."""
