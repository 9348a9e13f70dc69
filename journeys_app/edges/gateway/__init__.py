"""The HTTP gateway: Segment-compatible ingest, decide, reads and reviews for MA systems."""
