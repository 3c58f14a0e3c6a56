-- Tickets per (category, assignee, privacy, state), kept by triggers in the same transaction as
-- every ticket write, so the inbox's counts per state read a few dozen rows instead of counting
-- every ticket of a view. SQLite only: its single writer cannot deadlock on these hot rows;
-- PostgreSQL counts from its indexes. '' stands for "no category" and "unassigned".
CREATE TABLE ticket_state_counts (
    category_key TEXT NOT NULL,
    assignee_key TEXT NOT NULL,
    security     BIGINT NOT NULL,
    state        TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (category_key, assignee_key, security, state)
) WITHOUT ROWID;

INSERT INTO ticket_state_counts (category_key, assignee_key, security, state, n)
SELECT COALESCE(category_id, ''), COALESCE(assignee_id, ''), security, state, COUNT(*)
FROM tickets GROUP BY 1, 2, 3, 4;

CREATE TRIGGER ticket_state_counts_insert AFTER INSERT ON tickets
BEGIN
    INSERT INTO ticket_state_counts (category_key, assignee_key, security, state, n)
    VALUES (COALESCE(NEW.category_id, ''), COALESCE(NEW.assignee_id, ''), NEW.security, NEW.state, 1)
    ON CONFLICT (category_key, assignee_key, security, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER ticket_state_counts_delete AFTER DELETE ON tickets
BEGIN
    UPDATE ticket_state_counts SET n = n - 1
    WHERE category_key = COALESCE(OLD.category_id, '') AND assignee_key = COALESCE(OLD.assignee_id, '')
      AND security = OLD.security AND state = OLD.state;
END;

CREATE TRIGGER ticket_state_counts_update AFTER UPDATE OF state, category_id, assignee_id, security ON tickets
WHEN OLD.state IS NOT NEW.state OR OLD.category_id IS NOT NEW.category_id
  OR OLD.assignee_id IS NOT NEW.assignee_id OR OLD.security IS NOT NEW.security
BEGIN
    UPDATE ticket_state_counts SET n = n - 1
    WHERE category_key = COALESCE(OLD.category_id, '') AND assignee_key = COALESCE(OLD.assignee_id, '')
      AND security = OLD.security AND state = OLD.state;
    INSERT INTO ticket_state_counts (category_key, assignee_key, security, state, n)
    VALUES (COALESCE(NEW.category_id, ''), COALESCE(NEW.assignee_id, ''), NEW.security, NEW.state, 1)
    ON CONFLICT (category_key, assignee_key, security, state) DO UPDATE SET n = n + 1;
END;
