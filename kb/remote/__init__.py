"""`kb remote`: a client of a kb server for remote staff on poor connections: a local copy of the articles they
may read that searches with no network, kept up to date by delta sync, and a ticket outbox delivered exactly once."""
