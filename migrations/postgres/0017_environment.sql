-- The environment dashboard: facts apps report about themselves, thresholds admins set on them,
-- and the thresholds currently broken (so each break and recovery is announced once).
CREATE TABLE env_facts (
    app     TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,            -- the reported JSON value
    updated BIGINT NOT NULL,
    PRIMARY KEY (app, key)
);

CREATE TABLE env_thresholds (
    id      TEXT PRIMARY KEY,
    app     TEXT NOT NULL,            -- an app's name, or * for every app
    rule    TEXT NOT NULL,            -- e.g. php.memory_limit >= 256M
    created BIGINT NOT NULL
);

CREATE TABLE env_breaks (
    threshold_id TEXT NOT NULL,
    app          TEXT NOT NULL,
    since        BIGINT NOT NULL,
    detail       TEXT NOT NULL,
    PRIMARY KEY (threshold_id, app)
);
