"""Use cases: each runs in one transaction of the store."""
