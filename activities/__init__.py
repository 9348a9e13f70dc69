"""Side effects run by the journey worker: store, delivery, profile updates, notifications."""
