-- What a breach does besides telling people: raise the ticket's priority one step, and/or hand
-- it to a named member of the team (a team lead).
ALTER TABLE sla_tiers ADD COLUMN breach_raise_priority BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sla_tiers ADD COLUMN breach_reassign_to TEXT REFERENCES users (id);
