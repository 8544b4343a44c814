-- Eval runs started over the API (POST /v1/evals): the run's parameters, its state as a job of
-- its own kind (a worker claims a queued run with a lease it renews while the run goes on, as
-- for indexing jobs), its progress, and its results once done (metrics and the per-query table as
-- JSON, so any API process can serve a report whichever worker ran it).
CREATE TABLE eval_runs (
    id TEXT PRIMARY KEY,
    name TEXT,
    kind TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    search_type TEXT NOT NULL,
    query_limit INTEGER,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    metrics TEXT,
    results TEXT,
    error TEXT,
    worker_id TEXT,
    lease_until DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX eval_runs_by_status ON eval_runs (status, created_at);
CREATE INDEX eval_runs_by_created ON eval_runs (created_at)
