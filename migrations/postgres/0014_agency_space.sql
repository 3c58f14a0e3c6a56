-- The Agency tier's private channel: tiers with a shared space let an organization's members
-- see all its requests and its open work; an organization may have a webhook (e.g. its own
-- Slack channel) that receives its ticket updates.
ALTER TABLE sla_tiers ADD COLUMN shared_space BIGINT NOT NULL DEFAULT 0;
UPDATE sla_tiers SET shared_space = 1 WHERE id = 'tier-agency';
ALTER TABLE organizations ADD COLUMN webhook_url TEXT;
