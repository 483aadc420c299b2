"""What each Lambda is asked by its events, one use case per kind, answered as a body and metrics."""
