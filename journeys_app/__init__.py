"""The application around the engine, in layers: core, store, service, edges; dev tooling apart."""
