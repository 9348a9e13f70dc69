"""The edges people and systems use: the CLI, the gateway, the review console and the SDK."""
