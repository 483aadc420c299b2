"""Lambda entry points: thin adapters from an event to one use case of `central`."""
