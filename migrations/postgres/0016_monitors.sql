-- HTTP and multi-step synthetic checks ("monitors"): their settings and state, each run's
-- result (kept for a while) and a daily rollup (kept long) for uptime and the status page.
CREATE TABLE monitors (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    tags              TEXT NOT NULL,
    steps             TEXT NOT NULL,     -- JSON: the checked steps (method, url, headers, body, conditions, capture)
    interval_s        BIGINT NOT NULL,
    timeout_ms        BIGINT NOT NULL,
    failure_threshold BIGINT NOT NULL,
    success_threshold BIGINT NOT NULL,
    insecure          BIGINT NOT NULL,   -- 1: accept invalid TLS certificates
    status            TEXT NOT NULL,     -- new | up | down | paused
    fails             BIGINT NOT NULL,   -- consecutive failed runs
    passes            BIGINT NOT NULL,   -- consecutive passed runs
    next_run          BIGINT,            -- when the next run is due (NULL while paused)
    last_run          BIGINT,
    last_ok           BIGINT,
    last_ms           BIGINT,
    last_error        TEXT,
    created           BIGINT NOT NULL
);
CREATE INDEX monitors_next_run ON monitors (next_run) WHERE next_run IS NOT NULL;

CREATE TABLE monitor_results (
    monitor_id  TEXT NOT NULL,
    started     BIGINT NOT NULL,
    scheduled   BIGINT NOT NULL,          -- when it was due (started - scheduled is the drift)
    ok          BIGINT NOT NULL,
    response_ms BIGINT NOT NULL,
    status_code BIGINT,
    failed_step TEXT,
    error       TEXT,
    PRIMARY KEY (monitor_id, started)
);
CREATE INDEX monitor_results_started ON monitor_results (started);

CREATE TABLE monitor_daily (
    monitor_id TEXT NOT NULL,
    day        BIGINT NOT NULL,           -- Unix day (UTC)
    total      BIGINT NOT NULL,
    ok         BIGINT NOT NULL,
    sum_ms     BIGINT NOT NULL,
    PRIMARY KEY (monitor_id, day)
);
