-- Email: content-addressed blobs (raw messages, attachments), the Message-IDs that thread mail
-- to tickets, a log of every inbound message, the outbox, editable templates, attachments and
-- links between tickets. Timestamps are Unix milliseconds, booleans 0/1, ids text.

-- On SQLite the bytes live in files under the data directory; on PostgreSQL `data` holds
-- them, so every instance can read them.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    data       BYTEA,
    created_at BIGINT NOT NULL
);

-- Every Message-ID we know on a ticket, inbound or outbound, without angle brackets.
CREATE TABLE mail_ids (
    message_id        TEXT PRIMARY KEY,
    ticket_id         TEXT NOT NULL REFERENCES tickets (id),
    ticket_message_id TEXT REFERENCES ticket_messages (id),
    direction         TEXT NOT NULL,
    sender            TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX mail_ids_ticket ON mail_ids (ticket_id, sender);

-- Every message received, whatever became of it.
CREATE TABLE mail_inbound (
    id          TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    source      TEXT NOT NULL,
    message_id  TEXT,
    sender      TEXT,
    subject     TEXT NOT NULL,
    raw_sha256  TEXT NOT NULL REFERENCES blobs (sha256),
    size        BIGINT NOT NULL,
    auto        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    via         TEXT,
    ticket_id   TEXT REFERENCES tickets (id)
);
CREATE INDEX mail_inbound_received ON mail_inbound (received_at);
CREATE INDEX mail_inbound_ticket ON mail_inbound (ticket_id);

-- Outgoing mail: the exact bytes are built once, so every retry sends the same message.
CREATE TABLE mail_outbox (
    id                TEXT PRIMARY KEY,
    ticket_id         TEXT REFERENCES tickets (id),
    ticket_message_id TEXT REFERENCES ticket_messages (id),
    purpose           TEXT NOT NULL,
    sender            TEXT NOT NULL,
    recipients        TEXT NOT NULL,
    subject           TEXT NOT NULL,
    message_id        TEXT NOT NULL,
    raw               TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    sent_at           BIGINT
);
CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id, created_at);
CREATE INDEX mail_outbox_message ON mail_outbox (ticket_message_id);

CREATE TABLE mail_templates (
    key        TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO mail_templates (key, subject, body, updated_at) VALUES
    ('ack', 'We received your request: {{subject}}',
     'Hello {{name}},

thank you for contacting {{brand}}. Your request has been received and has the reference {{ref}}.
Someone from our team will look at it and answer you here. To add anything, reply to this email
and keep {{ref}} in the subject.

{{brand}} support', 0),
    ('ack_security', 'Security report received: {{subject}}',
     'Hello {{name}},

thank you for reporting a security concern to {{brand}}. Your report has the reference {{ref}}
and is visible only to our security team. Please do not share details publicly until we have
answered. Reply to this email to add anything.

{{brand}} security team', 0);

CREATE TABLE ticket_attachments (
    id                TEXT PRIMARY KEY,
    ticket_id         TEXT NOT NULL REFERENCES tickets (id),
    ticket_message_id TEXT NOT NULL REFERENCES ticket_messages (id),
    filename          TEXT NOT NULL,
    content_type      TEXT NOT NULL,
    size              BIGINT NOT NULL,
    sha256            TEXT NOT NULL REFERENCES blobs (sha256),
    inline            BIGINT NOT NULL DEFAULT 0,
    content_id        TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX ticket_attachments_message ON ticket_attachments (ticket_message_id);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id);

-- Related tickets (a reply to a long-closed ticket opens a new one linked to it).
CREATE TABLE ticket_links (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    other_id   TEXT NOT NULL REFERENCES tickets (id),
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, other_id)
);

ALTER TABLE ticket_messages ADD COLUMN source TEXT NOT NULL DEFAULT 'web';
ALTER TABLE tickets ADD COLUMN closed_at BIGINT;
