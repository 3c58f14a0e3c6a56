-- Support desk (PostgreSQL): categories, tickets (with what the escalation flow recorded), messages and the
-- per-ticket timeline. Timestamps are Unix milliseconds, booleans 0/1, ids text.
CREATE TABLE ticket_categories (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    security   BIGINT NOT NULL DEFAULT 0,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ticket_categories_name_key ON ticket_categories (name);
INSERT INTO ticket_categories (id, name, security, position, created_at) VALUES
    ('cat-account', 'Account', 0, 1, 0),
    ('cat-billing', 'Billing', 0, 2, 0),
    ('cat-product', 'Product', 0, 3, 0),
    ('cat-security', 'Security', 1, 4, 0),
    ('cat-availability', 'Availability', 0, 5, 0);

-- Ticket numbers come from one counter row, taken inside the creating transaction.
CREATE TABLE ticket_counter (
    id   BIGINT PRIMARY KEY,
    next BIGINT NOT NULL
);
INSERT INTO ticket_counter (id, next) VALUES (1, 1001);

CREATE TABLE tickets (
    id                   TEXT PRIMARY KEY,
    number               BIGINT NOT NULL,
    subject              TEXT NOT NULL,
    state                TEXT NOT NULL,
    resume_state         TEXT,
    category_id          TEXT REFERENCES ticket_categories (id),
    priority             BIGINT NOT NULL,
    channel              TEXT NOT NULL,
    requester_id         TEXT NOT NULL REFERENCES users (id),
    organization_id      TEXT REFERENCES organizations (id),
    assignee_id          TEXT REFERENCES users (id),
    security             BIGINT NOT NULL DEFAULT 0,
    reproduction_outcome TEXT,
    reproduction_steps   TEXT,
    evidence             TEXT,
    root_cause           TEXT,
    fix                  TEXT,
    resolution           TEXT,
    close_reason         TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    fixed_at             BIGINT,
    last_reply_at        BIGINT,
    resolved_at          BIGINT
);
CREATE UNIQUE INDEX tickets_number_key ON tickets (number);
CREATE INDEX tickets_state ON tickets (state, number);
CREATE INDEX tickets_requester ON tickets (requester_id, number);
CREATE INDEX tickets_assignee ON tickets (assignee_id, number);
CREATE INDEX tickets_category ON tickets (category_id, number);
CREATE INDEX tickets_updated ON tickets (updated_at, number);
CREATE INDEX tickets_priority ON tickets (priority, number);

CREATE TABLE ticket_messages (
    id         TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    kind       TEXT NOT NULL,
    author_id  TEXT REFERENCES users (id),
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, created_at);

CREATE TABLE ticket_events (
    id        TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, at);
