-- Support tiers and business-hours calendars. A calendar's opening hours, time zone and holidays
-- are kept as the JSON the admin entered (checked by opsdesk-sla before it is stored); a tier
-- without a calendar is covered round the clock. Targets are per tier and priority (0 low …
-- 3 urgent, as tickets rank them); a NULL target is "best effort". A customer's tier is their
-- own, else their organization's, else the default tier.
CREATE TABLE sla_calendars (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_calendars_name_key ON sla_calendars (name);

CREATE TABLE sla_tiers (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    position       BIGINT NOT NULL,
    calendar_id    TEXT REFERENCES sla_calendars (id),
    ticket_sla     BIGINT NOT NULL DEFAULT 1,
    warn_percent   BIGINT NOT NULL DEFAULT 75,
    is_default     BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_tiers_name_key ON sla_tiers (name);

CREATE TABLE sla_targets (
    tier_id                 TEXT NOT NULL REFERENCES sla_tiers (id),
    priority                BIGINT NOT NULL,
    first_response_minutes  BIGINT,
    next_response_minutes   BIGINT,
    resolution_minutes      BIGINT,
    PRIMARY KEY (tier_id, priority)
);

ALTER TABLE organizations ADD COLUMN tier_id TEXT REFERENCES sla_tiers (id);
ALTER TABLE users ADD COLUMN tier_id TEXT REFERENCES sla_tiers (id);

INSERT INTO sla_calendars (id, name, spec, created_at, updated_at) VALUES
    ('cal-office', 'Office hours',
     '{"time_zone":"UTC","hours":[{"day":"mon","from":"09:00","to":"17:00"},{"day":"tue","from":"09:00","to":"17:00"},{"day":"wed","from":"09:00","to":"17:00"},{"day":"thu","from":"09:00","to":"17:00"},{"day":"fri","from":"09:00","to":"17:00"}],"holidays":[]}',
     0, 0);

-- The seeds' tiers: self-service has no ticket SLA; community is business hours, best effort;
-- priority has guaranteed response times; agency adds round-the-clock cover.
INSERT INTO sla_tiers (id, name, position, calendar_id, ticket_sla, warn_percent, is_default, created_at, updated_at) VALUES
    ('tier-self-service', 'Self-service', 0, 'cal-office', 0, 75, 0, 0, 0),
    ('tier-community', 'Community', 1, 'cal-office', 1, 75, 1, 0, 0),
    ('tier-priority', 'Priority', 2, 'cal-office', 1, 75, 0, 0, 0),
    ('tier-agency', 'Agency', 3, NULL, 1, 75, 0, 0, 0);

INSERT INTO sla_targets (tier_id, priority, first_response_minutes, next_response_minutes, resolution_minutes) VALUES
    ('tier-priority', 3, 60, 120, 480),
    ('tier-priority', 2, 240, 480, 1440),
    ('tier-priority', 1, 480, 960, 2400),
    ('tier-priority', 0, 960, 1920, 4800),
    ('tier-agency', 3, 30, 60, 240),
    ('tier-agency', 2, 120, 240, 960),
    ('tier-agency', 1, 240, 480, 1920),
    ('tier-agency', 0, 480, 960, 2880);
