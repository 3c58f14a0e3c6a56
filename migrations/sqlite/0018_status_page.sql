-- The public status page: components (grouped; each set by hand or following a heartbeat check
-- or a monitor), notices (incidents posted by hand, with their updates) and maintenance windows.
CREATE TABLE status_components (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    group_name    TEXT NOT NULL,             -- '' when not in a group
    description   TEXT NOT NULL,
    position      BIGINT NOT NULL,
    source_kind   TEXT NOT NULL,             -- manual | check | monitor
    source_id     TEXT,                      -- the check's or monitor's id
    manual_status TEXT NOT NULL,             -- Statuspage component status, for manual ones
    created       BIGINT NOT NULL,
    updated       BIGINT NOT NULL
);

CREATE TABLE status_notices (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,               -- incident | maintenance
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,               -- investigating | identified | monitoring | resolved (incidents)
    impact      TEXT NOT NULL,               -- none | minor | major | critical | maintenance
    starts_at   BIGINT,                      -- maintenance window
    ends_at     BIGINT,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX status_notices_created ON status_notices (kind, created);

CREATE TABLE status_notice_updates (
    id        TEXT PRIMARY KEY,
    notice_id TEXT NOT NULL,
    status    TEXT NOT NULL,
    body      TEXT NOT NULL,
    created   BIGINT NOT NULL
);
CREATE INDEX status_notice_updates_notice ON status_notice_updates (notice_id, created);

CREATE TABLE status_notice_components (
    notice_id    TEXT NOT NULL,
    component_id TEXT NOT NULL,
    PRIMARY KEY (notice_id, component_id)
);
