-- Organizations may let their members see each other's requests in the portal (never security
-- reports). Off unless an admin turns it on.
ALTER TABLE organizations ADD COLUMN share_tickets BIGINT NOT NULL DEFAULT 0;
