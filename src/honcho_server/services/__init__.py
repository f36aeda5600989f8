"""Use cases: each opens and closes its own transaction and raises domain errors."""
