-- SQLite keeps a table of ticket counts per state maintained by triggers (see its 0009). On
-- PostgreSQL, concurrent writers would queue (or deadlock) on those few hot rows, so the inbox
-- counts from the (filter, state, security) indexes instead. Nothing to change here.
SELECT 1;
