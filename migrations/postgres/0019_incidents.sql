-- Incidents: the record every outage gets (severity, status, commander, timeline, links to the
-- tickets, checks, monitors and ops runs involved), its postmortem, and change-freeze windows.
CREATE TABLE incident_counter (
    id   BIGINT PRIMARY KEY,
    next BIGINT NOT NULL
);
INSERT INTO incident_counter (id, next) VALUES (1, 1);

CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    number       BIGINT NOT NULL UNIQUE,     -- shown as INC-<number>
    title        TEXT NOT NULL,
    severity     BIGINT NOT NULL,            -- 1 (SEV1, worst) … 4
    status       TEXT NOT NULL,              -- investigating | identified | monitoring | resolved | postmortem
    commander_id TEXT,
    summary      TEXT NOT NULL,              -- what is known, for the team
    root_cause   TEXT,                       -- required to resolve
    notice_id    TEXT,                       -- its entry on the public status page, once public
    components   TEXT NOT NULL,              -- JSON [[component id, status shown while open]]
    source       TEXT NOT NULL,              -- manual | ticket | check | monitor | api
    created_by   TEXT NOT NULL,              -- actor label
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    resolved_at  BIGINT
);
CREATE INDEX incidents_status ON incidents (status, created);
CREATE INDEX incidents_created ON incidents (created);

-- The timeline: every status change, public update, note, link, flip and ops action, in order.
CREATE TABLE incident_events (
    id          TEXT PRIMARY KEY,            -- time-ordered (UUIDv7)
    incident_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- declared | status | update | note | link | flip | action | override | severity | commander | postmortem
    public      BIGINT NOT NULL,             -- 1: also posted on the status page
    body        TEXT NOT NULL,
    ref         TEXT NOT NULL                -- what it is about (`ticket:<id>`, `run:<id>` …), '' when nothing
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at, id);

-- What an incident is linked to: tickets, heartbeat checks, monitors, ops runs and the
-- postmortem's action-item tickets.
CREATE TABLE incident_links (
    incident_id TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- ticket | check | monitor | run | action_item
    target_id   TEXT NOT NULL,
    created     BIGINT NOT NULL,
    PRIMARY KEY (incident_id, kind, target_id)
);
CREATE INDEX incident_links_target ON incident_links (kind, target_id);

CREATE TABLE postmortems (
    incident_id TEXT PRIMARY KEY,
    impact      TEXT NOT NULL,
    timeline    TEXT NOT NULL,
    root_cause  TEXT NOT NULL,
    went_well   TEXT NOT NULL,
    went_badly  TEXT NOT NULL,
    author      TEXT NOT NULL,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL
);

-- Admin-editable names of the four severities.
CREATE TABLE incident_severities (
    level BIGINT PRIMARY KEY,
    label TEXT NOT NULL
);
INSERT INTO incident_severities (level, label) VALUES
    (1, 'Critical: the product is down for most customers'),
    (2, 'Major: a core feature is down or badly degraded'),
    (3, 'Minor: some customers affected, workaround exists'),
    (4, 'Low: cosmetic or internal');

-- Scheduled change freezes: config_change and deploy actions are refused inside them.
CREATE TABLE freeze_windows (
    id         TEXT PRIMARY KEY,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    time_zone  TEXT NOT NULL,                -- how the times were entered and are shown
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created    BIGINT NOT NULL
);
CREATE INDEX freeze_windows_ends ON freeze_windows (ends_at);

-- An incident's affected components carry the status they show while it is open.
ALTER TABLE status_notice_components ADD COLUMN impact TEXT NOT NULL DEFAULT '';

-- Checks and monitors whose going down declares an incident by itself, and at which severity.
CREATE TABLE incident_auto_declare (
    source_id TEXT PRIMARY KEY,              -- a heartbeat check's or a monitor's id
    severity  BIGINT NOT NULL
);
