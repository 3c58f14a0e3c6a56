-- Desk policies: unsupported request types with their policy answers, the follow-up template,
-- triage rules, canned replies, the phrase lists of the communication rules and portal sign-in
-- links. Timestamps are
-- Unix milliseconds, booleans 0/1, ids text, structured values JSON text.

CREATE TABLE unsupported_types (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    answer     TEXT NOT NULL,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX unsupported_types_name_key ON unsupported_types (name);
INSERT INTO unsupported_types (id, name, answer, position, updated_at) VALUES
    ('custom-debugging', 'Custom debugging',
     'Hello {{name}},

thank you for reaching out. Debugging your own code, scripts or integrations is outside what
{{brand}} support covers, so we are closing this request ({{ref}}). Our documentation and the
community forum are the best places for help with custom code. If you find a problem in our
product itself, open a new request with the steps to reproduce it and we will look into it.

{{brand}} support', 1, 0),
    ('on-demand-configuration', 'On-demand configuration',
     'Hello {{name}},

thank you for your request. Setting up or changing configuration on your behalf is not part of
{{brand}} support, so we are closing this request ({{ref}}). Every setting is described in our
documentation; if a setting does not work as documented, open a new request and we will help.

{{brand}} support', 2, 0),
    ('data-recovery', 'Data recovery outside policy',
     'Hello {{name}},

we understand how important this data is. Recovering data outside our published backup and
retention policy is not something we can offer, so we are closing this request ({{ref}}).
Data within the retention window can be restored on request; see our backup policy for details.

{{brand}} support', 3, 0);

INSERT INTO mail_templates (key, subject, body, updated_at) VALUES
    ('followup', 'How is it going? {{subject}}',
     'Hello {{name}},

we resolved your request {{ref}} a few days ago. Is everything working as expected now? If not,
just reply to this email and the request reopens with your answer.

{{brand}} support', 0);

CREATE TABLE triage_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    position   BIGINT NOT NULL,
    enabled    BIGINT NOT NULL DEFAULT 1,
    conditions TEXT NOT NULL,
    actions    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE canned_replies (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX canned_replies_title_key ON canned_replies (title);

CREATE TABLE reply_rule_lists (
    kind       TEXT PRIMARY KEY,
    phrases    TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One-time sign-in links for the customer portal: only the SHA-256 of the token is stored.
CREATE TABLE login_links (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_links_user ON login_links (user_id, created_at);
