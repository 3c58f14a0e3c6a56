-- Ticket search (PostgreSQL): one row per subject and per message (notes too, marked not
-- public), a `simple` tsvector with a GIN index. The text is normalized in Rust first, so both
-- backends index the very same words and answer a search the same way.
CREATE TABLE ticket_search (
    ticket BIGINT NOT NULL,
    source TEXT NOT NULL,
    public BIGINT NOT NULL,
    words  TSVECTOR NOT NULL
);
CREATE INDEX ticket_search_words ON ticket_search USING GIN (words);
CREATE INDEX ticket_search_source ON ticket_search (ticket, source);
