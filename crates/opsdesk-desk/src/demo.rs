//! Demo tickets for `opsdesk demo`: a few realistic requests in different states, filed and
//! moved through the same services people use, so the inbox, the ticket page and the portal
//! have something to show. Added only to a desk without tickets.

use opsdesk_core::accounts::service as accounts;
use opsdesk_core::audit::Actor;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use serde_json::json;

use crate::tickets::filing;
use crate::tickets::input::{MessageInput, NewTicket, TransitionInput};
use crate::tickets::model::Channel;
use crate::tickets::service;

/// (requester, subject, first message, agent reply, steps to walk: (to, fields))
type Demo = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

const TICKETS: &[Demo] = &[
    (
        "dana@brightpixel.example",
        "CSV export stops at 10%",
        "Since this morning the billing report export stops at 10% and never finishes. Steps: Reports → Billing → Export CSV.",
        Some(
            "Thanks Dana, we can reproduce it with large reports and are looking at the export worker now.",
        ),
        &[
            ("triaged", r#"{"category": "Product"}"#),
            (
                "reproducing",
                r#"{"outcome": "reproduced", "steps": "Export a billing report with more than 10,000 rows"}"#,
            ),
            (
                "investigating",
                r#"{"evidence": "worker.log: export job killed after 30 s timeout"}"#,
            ),
        ],
    ),
    (
        "lee@brightpixel.example",
        "Invoice shows the wrong VAT rate",
        "Our March invoice applies 19% VAT, but we are registered in Austria (20%).",
        None,
        &[("triaged", r#"{"category": "Billing"}"#)],
    ),
    (
        "ops@northwind.example",
        "API returns 502 for a few seconds every hour",
        "Our monitoring sees 502s from /api/orders at about 5 minutes past every hour.",
        Some(
            "Thank you for the timestamps. We found the cause (an hourly cache rebuild) and shipped a fix; could you confirm the 502s are gone?",
        ),
        &[
            ("triaged", r#"{"category": "Availability"}"#),
            (
                "reproducing",
                r#"{"outcome": "reproduced", "steps": "Watch /api/orders at :05 past the hour"}"#,
            ),
            (
                "investigating",
                r#"{"evidence": "load balancer log: upstream restarts at :05"}"#,
            ),
            (
                "fixed",
                r#"{"root_cause": "The hourly cache rebuild restarted the API workers", "fix": "Rebuild the cache in place without restarting (release 2.4.1)"}"#,
            ),
        ],
    ),
    (
        "frank@solo-shop.example",
        "How do I add a second user?",
        "I would like my colleague to answer tickets too. Where do I add her?",
        None,
        &[],
    ),
];

/// Files the demo tickets if the desk has none; returns how many were added.
pub async fn seed(db: &Db, mail: &MailConfig, agent_email: &str) -> Result<usize, AppError> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
        .fetch_one(db.read())
        .await?;
    if existing > 0 {
        return Ok(0);
    }
    // Demo mail is recorded but not acknowledged.
    let mail = MailConfig {
        acknowledge: false,
        ..mail.clone()
    };
    let agent = accounts::find(db, agent_email).await?;
    let actor = Actor::cli();
    for (requester, subject, body, reply, steps) in TICKETS {
        let customer = accounts::find(db, requester).await?;
        let input = NewTicket {
            subject: (*subject).into(),
            body: (*body).into(),
            category: None,
            priority: None,
            email: None,
            name: None,
        };
        let t = filing::create(
            db,
            &mail,
            &actor,
            Some(&customer),
            Channel::Web,
            input,
            None,
        )
        .await?;
        let reference = t.number.to_string();
        for (to, fields) in *steps {
            let mut v: serde_json::Value =
                serde_json::from_str(fields).unwrap_or_else(|_| json!({}));
            v["to"] = json!(to);
            let input: TransitionInput = serde_json::from_value(v)
                .map_err(|e| AppError::internal(anyhow::anyhow!("demo step: {e}")))?;
            service::transition(db, &mail, &actor, &agent, &reference, input).await?;
        }
        if let Some(text) = reply {
            let input = MessageInput {
                body: (*text).into(),
                confirm: true,
            };
            service::add_message(db, &mail, &actor, &agent, &reference, input).await?;
        }
    }
    Ok(TICKETS.len())
}
