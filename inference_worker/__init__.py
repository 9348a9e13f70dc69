"""The inference service: a Temporal worker on the "inference" queue serving intent, score and copy."""
