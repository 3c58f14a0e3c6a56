-- Ops action runs: who asked for what (action, checked parameters, the ticket or incident it is
-- for), who approved it and until when, whether a freeze was overridden and why, and what
-- happened (state, exit code, captured output with secrets redacted). Live output is kept in
-- chunks while a run is going, so any instance can stream it to a page.
CREATE TABLE ops_runs (
    id               TEXT PRIMARY KEY,
    action           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    params           TEXT NOT NULL,          -- JSON object of the checked values
    argv             TEXT NOT NULL,          -- JSON array: the program and its arguments as run
    ticket_id        TEXT,
    incident_id      TEXT,
    justification    TEXT NOT NULL,
    requested_by     TEXT NOT NULL,          -- user id
    requested_at     BIGINT NOT NULL,
    state            TEXT NOT NULL,          -- awaiting_approval | approved | running | succeeded | failed | timed_out | could_not_start | interrupted | expired
    approved_by      TEXT,
    approved_at      BIGINT,
    approval_expires BIGINT,
    override_reason  TEXT,
    override_by      TEXT,
    undo_of          TEXT,                   -- this run undoes that one
    undone_by        TEXT,                   -- that run undid this one
    runner           TEXT,                   -- the instance running it
    heartbeat        BIGINT,                 -- the runner's last sign of life
    started_at       BIGINT,
    ends_at          BIGINT,                 -- impersonation: when it ends by itself
    finished_at      BIGINT,
    exit_code        BIGINT,
    output           TEXT NOT NULL,
    total_bytes      BIGINT NOT NULL,
    truncated        BIGINT NOT NULL,
    updated          BIGINT NOT NULL,
    -- Every run is for a ticket or an incident; nobody approves their own request.
    CHECK (ticket_id IS NOT NULL OR incident_id IS NOT NULL),
    CHECK (approved_by IS NULL OR approved_by <> requested_by)
);
CREATE INDEX ops_runs_state ON ops_runs (state, heartbeat);
CREATE INDEX ops_runs_ticket ON ops_runs (ticket_id, requested_at);
CREATE INDEX ops_runs_incident ON ops_runs (incident_id, requested_at);
CREATE INDEX ops_runs_requested ON ops_runs (requested_at);

CREATE TABLE ops_run_chunks (
    run_id TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
