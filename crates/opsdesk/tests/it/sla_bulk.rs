//! SLAs at bulk: a seeded desk (`opsdesk seed`) has its tickets' clocks with past announcements
//! settled, `opsdesk sla due` lists what is about to be announced, and `opsdesk sla apply` moves
//! a tier's open tickets in batches — leaving every deadline where it was when the policy did
//! not change. Run as real processes on both backends.

use serde_json::Value;

use crate::helpers::{Backend, fresh_database};
use crate::on_both;
use crate::procs::opsdesk;

on_both!(seeded_tickets_have_settled_clocks_and_tiers_apply_in_bulk);

fn json_of(out: &std::process::Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "command failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

async fn seeded_tickets_have_settled_clocks_and_tiers_apply_in_bulk(backend: Backend) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let url = fresh_database(backend, d).await;
    let before = opsdesk_core::clock::now_ms().to_string();
    let seeded = opsdesk(
        d,
        &url,
        &["seed", "--tickets", "4000", "--messages", "4000"],
        None,
    );
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );

    // Everything that fell due in the seeded past counts as announced: nothing was due when the
    // seed began (what falls due since is the sweep's to announce).
    let now = json_of(&opsdesk(
        d,
        &url,
        &["sla", "due", "--at-ms", &before, "--json"],
        None,
    ));
    assert_eq!(now["due"], 0, "{now}");
    // Both looks ahead are from one instant: the apply between them takes seconds.
    let at = opsdesk_core::clock::now_ms().to_string();
    let ahead = json_of(&opsdesk(
        d,
        &url,
        &[
            "sla", "due", "--within", "96", "--limit", "50", "--at-ms", &at, "--json",
        ],
        None,
    ));
    let due = ahead["due"].as_i64().unwrap_or_default();
    assert!(
        due > 0,
        "open paid tickets warn or breach in the next days: {ahead}"
    );
    assert_eq!(
        ahead["tickets"].as_array().map(Vec::len),
        Some(usize::try_from(due.min(50)).unwrap_or(0))
    );

    // Applying an unchanged tier moves no deadline (the counted time is kept exactly).
    let applied = json_of(&opsdesk(
        d,
        &url,
        &["sla", "apply", "Agency", "--json"],
        None,
    ));
    assert!(applied["tickets"].as_u64().unwrap_or(0) > 100, "{applied}");
    let again = json_of(&opsdesk(
        d,
        &url,
        &[
            "sla", "due", "--within", "96", "--limit", "50", "--at-ms", &at, "--json",
        ],
        None,
    ));
    assert_eq!(
        (&again["due"], &again["tickets"]),
        (&ahead["due"], &ahead["tickets"])
    );

    // The default tier holds half the customers: more open tickets than one statement writes.
    let db = opsdesk_core::db::Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (community, _) = opsdesk_sla::store::find_tier(&db, "Community")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the seeded Community tier"));
    let open = opsdesk_sla::ticket_store::count_open_of_tier(&db, &community)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(open > 1_000, "{open}");
    // A changed warning share reaches every open ticket, in many small batches (the next
    // batch is read while the last is written), and no resolved or closed one.
    sqlx::query("UPDATE sla_tiers SET warn_percent = 60 WHERE id = $1")
        .bind(&community)
        .execute(db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let warned_at = |open: bool| {
        let states = if open { "NOT IN" } else { "IN" };
        format!(
            "SELECT COUNT(*) FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
             WHERE s.tier_id = $1 AND s.warn_percent = 60 \
             AND t.state {states} ('resolved', 'closed')"
        )
    };
    let applied = json_of(&opsdesk(
        d,
        &url,
        &["sla", "apply", "community", "--batch", "97", "--json"],
        None,
    ));
    assert_eq!(applied["tickets"], open, "{applied}");
    for (open_ones, expected) in [(true, open), (false, 0)] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(warned_at(open_ones)))
            .bind(&community)
            .fetch_one(db.read())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, expected, "open: {open_ones}");
    }
    let refused = opsdesk(
        d,
        &url,
        &["sla", "apply", "community", "--batch", "0"],
        None,
    );
    assert!(
        !refused.status.success(),
        "a batch of no tickets is refused"
    );
    let actions = opsdesk_core::audit::store::list(&db, &Default::default(), 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        actions.iter().any(|a| a.action == "sla.tier.apply"),
        "audited"
    );
    db.close().await;

    // An unknown tier is a clear error, not a silent success.
    let unknown = opsdesk(d, &url, &["sla", "apply", "Platinum"], None);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no tier \"Platinum\""));
}
