"""Use cases of retirement: the destructor deletes (or keeps) old keys when their expiry item ends."""
