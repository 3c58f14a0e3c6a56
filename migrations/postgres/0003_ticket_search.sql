-- Ticket search (PostgreSQL): one row per ticket with the normalized subject, public
-- conversation and internal notes, and two `simple` tsvectors with GIN indexes: everything
-- (for staff) and the public part (for customers). The text is normalized in Rust first, so
-- both backends index the very same words and answer a search the same way.
CREATE TABLE ticket_search (
    ticket     BIGINT PRIMARY KEY,
    subject    TEXT NOT NULL,
    public     TEXT NOT NULL,
    notes      TEXT NOT NULL,
    public_doc TSVECTOR NOT NULL,
    all_doc    TSVECTOR NOT NULL
);
CREATE INDEX ticket_search_all ON ticket_search USING GIN (all_doc);
CREATE INDEX ticket_search_public ON ticket_search USING GIN (public_doc);
