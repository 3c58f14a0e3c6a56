-- The SLA state of each ticket served under a tier with targets: the targets it started with
-- (policy changes leave open tickets alone unless an admin applies them), its three clocks, and
-- the deadlines they give. `due_at` is the earliest running deadline (the inbox's "due soonest");
-- `timer_at` the earliest warning or breach still to announce (the timer sweep's index).
CREATE TABLE ticket_sla (
    ticket_id            TEXT PRIMARY KEY REFERENCES tickets (id),
    tier_id              TEXT NOT NULL REFERENCES sla_tiers (id),
    calendar_id          TEXT REFERENCES sla_calendars (id),
    priority             BIGINT NOT NULL,
    warn_percent         BIGINT NOT NULL,
    first_target_ms      BIGINT,
    next_target_ms       BIGINT,
    resolution_target_ms BIGINT,
    clocks               TEXT NOT NULL,
    first_due_at         BIGINT,
    next_due_at          BIGINT,
    resolution_due_at    BIGINT,
    due_at               BIGINT,
    timer_at             BIGINT,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX ticket_sla_due ON ticket_sla (due_at);
CREATE INDEX ticket_sla_timer ON ticket_sla (timer_at);
