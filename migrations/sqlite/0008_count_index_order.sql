-- Counts per state stream out of these indexes in state order when the state comes right after
-- the filtered column: an admin's count within a category (no security filter) no longer sorts
-- every matching row to group it. The security flag stays in the index so agents' counts, which
-- exclude security reports, are still read from the index alone.
DROP INDEX tickets_category_state;
DROP INDEX tickets_assignee_state;
CREATE INDEX tickets_category_state ON tickets (category_id, state, security);
CREATE INDEX tickets_assignee_state ON tickets (assignee_id, state, security);
