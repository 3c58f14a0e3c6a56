-- Ticket search: one FTS5 document per ticket (rowid = ticket number) with the subject, the
-- public conversation and the internal notes as columns, so a query matches every word
-- anywhere in a ticket and customers search only the public columns. The text is normalized
-- in Rust (lower-cased words separated by spaces) before it is stored, so SQLite and
-- PostgreSQL index the very same words and answer a search the same way.
CREATE VIRTUAL TABLE ticket_fts USING fts5(
    subject,
    public,
    notes,
    tokenize = 'unicode61 remove_diacritics 0'
);
