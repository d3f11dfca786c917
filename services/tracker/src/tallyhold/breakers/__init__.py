"""Per-venue circuit breakers, shared by the sync engine and the price refresh (which call the same venues).

policy.py      what a failed call means (Failure, Verdict) and the breaker states (Breakers); no I/O
repository.py  the `venue_breakers` rows that make an open breaker hold across processes and restarts
"""
