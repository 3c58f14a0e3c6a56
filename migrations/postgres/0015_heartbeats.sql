-- Heartbeat checks (Healthchecks.io-compatible): checks, their ping log and state flips, alert
-- channels, and the management API's keys. Timestamps are Unix milliseconds.
CREATE TABLE hb_checks (
    id               TEXT PRIMARY KEY,   -- the check's UUID, as in its ping URL
    unique_key       TEXT NOT NULL,      -- what read-only API keys see instead of the UUID
    name             TEXT NOT NULL,
    slug             TEXT NOT NULL,      -- '' when the check has none
    tags             TEXT NOT NULL,
    descr            TEXT NOT NULL,
    kind             TEXT NOT NULL,      -- simple | cron
    timeout_s        BIGINT NOT NULL,
    grace_s          BIGINT NOT NULL,
    schedule         TEXT NOT NULL,
    tz               TEXT NOT NULL,
    methods          TEXT NOT NULL,      -- '' (HEAD, GET, POST) or POST
    manual_resume    BIGINT NOT NULL,
    start_kw         TEXT NOT NULL,
    success_kw       TEXT NOT NULL,
    failure_kw       TEXT NOT NULL,
    filter_body      BIGINT NOT NULL,
    status           TEXT NOT NULL,      -- new | up | down | paused
    last_ping        BIGINT,
    last_start       BIGINT,
    runs             TEXT NOT NULL,      -- open runs: started_ms:rid,… (rid may be empty)
    last_duration_ms BIGINT,
    alert_after      BIGINT,             -- when the check goes down unless pinged
    n_pings          BIGINT NOT NULL,
    created          BIGINT NOT NULL
);
CREATE UNIQUE INDEX hb_checks_unique_key ON hb_checks (unique_key);
CREATE INDEX hb_checks_slug ON hb_checks (slug);
CREATE INDEX hb_checks_alert_after ON hb_checks (alert_after) WHERE alert_after IS NOT NULL;

CREATE TABLE hb_pings (
    check_id    TEXT NOT NULL,
    n           BIGINT NOT NULL,
    created     BIGINT NOT NULL,
    kind        TEXT NOT NULL,           -- success | start | fail | log | ign
    scheme      TEXT NOT NULL,
    method      TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    ua          TEXT NOT NULL,
    body        BYTEA,                   -- kept up to the ping body limit
    body_size   BIGINT NOT NULL,         -- the size received
    exitstatus  BIGINT,
    rid         TEXT,
    duration_ms BIGINT,
    PRIMARY KEY (check_id, n)
);

CREATE TABLE hb_flips (
    id         TEXT PRIMARY KEY,
    check_id   TEXT NOT NULL,
    created    BIGINT NOT NULL,
    old_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX hb_flips_check ON hb_flips (check_id, created);

CREATE TABLE alert_channels (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL,               -- email | webhook | slack
    target  TEXT NOT NULL,               -- an address or a URL
    created BIGINT NOT NULL
);

CREATE TABLE hb_check_channels (
    check_id   TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    PRIMARY KEY (check_id, channel_id)
);
CREATE INDEX hb_check_channels_channel ON hb_check_channels (channel_id);

-- One row per (flip, channel): what was sent where, and how it went.
CREATE TABLE alert_notifications (
    id         TEXT PRIMARY KEY,
    flip_id    TEXT NOT NULL,
    check_id   TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    created    BIGINT NOT NULL,
    state      TEXT NOT NULL,            -- queued | sent | retrying | failed
    error      TEXT,
    outbox_id  TEXT,                     -- the email it became, for email channels
    updated    BIGINT NOT NULL
);
CREATE UNIQUE INDEX alert_notifications_once ON alert_notifications (flip_id, channel_id);
CREATE INDEX alert_notifications_check ON alert_notifications (check_id, created);

CREATE TABLE hb_api_keys (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    scope   TEXT NOT NULL,               -- write | read
    prefix  TEXT NOT NULL,
    hash    TEXT NOT NULL,               -- SHA-256 of the key, hex
    created BIGINT NOT NULL,
    revoked BIGINT
);
CREATE UNIQUE INDEX hb_api_keys_hash ON hb_api_keys (hash);
