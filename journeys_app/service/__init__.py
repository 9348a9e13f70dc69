"""The client service: what the edges call to start, signal, decide, enrol and preview journeys."""
