"""Dev tooling apart from the product: the demo, benchmarks, the embedded stack and the mail sink."""
