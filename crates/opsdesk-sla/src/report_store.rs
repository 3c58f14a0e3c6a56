//! SQL for SLA reports: the tickets filed in a period with their tier, category, agent, clocks
//! and targets.

use sqlx::Row as _;

use crate::clock::TicketClocks;
use crate::deadlines::TargetsMs;
use crate::report::ReportTicket;
use opsdesk_core::db::Db;

/// Tickets filed in `[from, to)` that are served under a tier, oldest first, with the calendar
/// each counts in.
pub async fn tickets(
    db: &Db,
    from: i64,
    to: i64,
) -> Result<Vec<(ReportTicket, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.created_at, tr.name AS tier, c.name AS category, \
         COALESCE(NULLIF(a.name, ''), a.email) AS agent, s.clocks, s.calendar_id, \
         s.first_target_ms, s.next_target_ms, s.resolution_target_ms \
         FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
         JOIN sla_tiers tr ON tr.id = s.tier_id \
         LEFT JOIN ticket_categories c ON c.id = t.category_id \
         LEFT JOIN users a ON a.id = t.assignee_id \
         WHERE t.created_at >= $1 AND t.created_at < $2 ORDER BY t.created_at",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            let clocks: String = r.try_get("clocks")?;
            let clocks: TicketClocks = serde_json::from_str(&clocks)
                .map_err(|e| sqlx::Error::Decode(format!("ticket SLA clocks: {e}").into()))?;
            Ok((
                ReportTicket {
                    created_at: r.try_get("created_at")?,
                    tier: r.try_get("tier")?,
                    category: r.try_get("category")?,
                    agent: r.try_get("agent")?,
                    clocks,
                    targets: TargetsMs {
                        first_response: r.try_get("first_target_ms")?,
                        next_response: r.try_get("next_target_ms")?,
                        resolution: r.try_get("resolution_target_ms")?,
                    },
                },
                r.try_get("calendar_id")?,
            ))
        })
        .collect()
}
