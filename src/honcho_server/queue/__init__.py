"""The durable job queue: enqueue in the caller's transaction, claim with leases, retry, park."""
