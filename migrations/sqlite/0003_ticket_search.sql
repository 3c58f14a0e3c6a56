-- Ticket search: one FTS5 row per subject and per message (notes too, marked not public). The
-- text is normalized in Rust (lower-cased words separated by spaces) before it is stored, so
-- SQLite and PostgreSQL index the very same words and answer a search the same way.
CREATE VIRTUAL TABLE ticket_fts USING fts5(
    words,
    ticket UNINDEXED,
    source UNINDEXED,
    public UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0'
);
