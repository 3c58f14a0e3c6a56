-- SLA reports read the tickets filed in a period.
CREATE INDEX tickets_created ON tickets (created_at);
