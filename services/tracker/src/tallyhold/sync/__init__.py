"""Sync: keeps every connection's balances, the prices and the net-worth history current.

    scheduler.py   APScheduler 3 (AsyncIOScheduler) inside `tallyhold serve`: one job per connection and one
                   for prices, all on the instance's grid (one phase, drawn once, into every SYNC_INTERVAL_SECONDS),
                   plus history retention and job reconciliation
    engine.py      one code path for every trigger (scheduler, `POST /v1/sync`, `tallyhold sync --once`):
                   limits, breakers, the egress call with its deadline, then `service.apply` / `service.fail`
    control.py     what routes may ask of this process's syncing (start all, status, sync one soon);
                   dependencies.py gives it to them as `SyncControlDep`
    policy.py      pure rules: windows, backoff with jitter (what a failure means and the venue breakers: `breakers`)
    service.py     what a sync result does to the database, in ONE transaction per connection
    repository.py  all SQL of the above

Invariants (tests/tracker/sync/):
- One failing source never blocks another: each runs in its own task with its own deadline.
- A sync window (`window_start` = the interval grid) holds at most one snapshot per connection: reruns and
  concurrent runs update the same row (primary key), under a row lock, and a result older than the one
  already applied is dropped. Balances, snapshot and net-worth point commit together or not at all.
- A lease (`connections.sync_lease_until`) keeps two processes from calling a venue for the same connection
  at once; it expires by itself if a process dies.
- A failed source keeps its last good balances, flagged stale; permanent errors stop scheduled syncs until
  fixed; `write_permissions` quarantines the key (no further call until it is replaced).
- A result applies only to the key it was obtained with: the claim carries `connections.credentials_version`,
  and a sync that ends after a key replacement is `superseded` and stores nothing (not even a quarantine).
- A `banned` (418) or `rate_limited` (429) answer opens the venue's breaker for its Retry-After, in the
  database, so no process of the instance calls the venue until it expires.
"""
