//! opsdesk's support desk: tickets from the support form and the API, the escalation flow the
//! server enforces, the agent inbox and ticket page. Plugs into the web shell as a capability.

pub mod demo;
pub mod mail;
pub mod portal;
pub mod seed;
pub mod settings;
pub mod support;
pub mod tickets;
pub mod uploads;
pub mod webhooks;

use axum::Router;
use axum::routing::{get, post};
use opsdesk_core::web::nav::{Audience, NavItem};
use opsdesk_core::web::{AppState, Capability};

/// Forms with files enforce their own limits ([mail] max_attachment_bytes per file,
/// max_message_bytes in all) while reading; the global 2 MB body limit is lifted for them only.
fn no_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::disable()
}

/// The desk's pages and API.
pub fn capability() -> Capability {
    use tickets::pages;
    let pages = Router::new()
        .route(
            "/support/new",
            get(support::form).post(support::submit).layer(no_limit()),
        )
        .route("/support/thanks", get(support::thanks))
        .route("/desk", get(pages::inbox))
        .route("/desk/tickets/{ref}", get(pages::ticket))
        .route(
            "/desk/tickets/{ref}/reply",
            post(pages::reply).layer(no_limit()),
        )
        .route("/desk/tickets/{ref}/note", post(pages::note))
        .route("/desk/tickets/{ref}/transition", post(pages::transition))
        .route("/desk/tickets/{ref}/edit", post(pages::edit))
        .route(
            "/desk/tickets/{ref}/unsupported",
            post(tickets::policy_pages::unsupported),
        )
        .route(
            "/desk/tickets/{ref}/merge",
            post(tickets::policy_pages::merge),
        )
        .route(
            "/desk/tickets/{ref}/link",
            post(tickets::policy_pages::link),
        )
        .route("/desk/settings", get(settings::show))
        .route("/desk/settings/templates/{key}", post(settings::template))
        .route("/desk/settings/triage", post(settings::add_rule))
        .route(
            "/desk/settings/triage/{id}/delete",
            post(settings::delete_rule),
        )
        .route(
            "/desk/settings/unsupported/{id}",
            post(settings::unsupported),
        )
        .route("/desk/settings/reply-rules", post(settings::reply_rules))
        .route("/desk/settings/sla-paused", post(settings::sla_paused))
        .route("/desk/settings/canned", post(settings::add_canned))
        .route("/desk/settings/organizations/{id}", post(settings::sharing))
        .route(
            "/desk/settings/organizations/{id}/tier",
            post(settings::org_tier),
        )
        .route(
            "/desk/settings/canned/{id}/delete",
            post(settings::delete_canned),
        )
        .route("/portal", get(portal::home))
        .route("/portal/link", post(portal::request_link))
        .route(
            "/portal/login/{token}",
            get(portal::confirm).post(portal::sign_in),
        )
        .route("/portal/org", get(portal::space::show))
        .route("/portal/tickets/{ref}", get(portal::ticket))
        .route(
            "/portal/tickets/{ref}/reply",
            post(portal::reply).layer(no_limit()),
        );
    Capability {
        pages: pages as Router<AppState>,
        api: tickets::api::router()
            .merge(tickets::sla_settings::router())
            .merge(tickets::policy_api::router())
            .merge(mail::api::router())
            .merge(portal::orgs::router()),
        ..Default::default()
    }
}

/// The desk's background jobs (outgoing mail, follow-ups, SLA timers, search index upkeep).
pub fn register_jobs(
    registry: &mut opsdesk_core::jobs::Registry,
    config: &opsdesk_core::config::Config,
) {
    let mail = std::sync::Arc::new(config.mail.clone());
    mail::outbox::register(registry, mail.clone());
    tickets::followup::register(registry, mail.clone());
    tickets::sla_timers::register(registry, mail, std::sync::Arc::new(config.sla.clone()));
    tickets::search::register(registry);
    webhooks::register(registry);
}

/// Start-up work: the secret that signs outgoing Message-IDs exists before anything is sent.
pub async fn prepare(db: &opsdesk_core::db::Db) -> Result<(), sqlx::Error> {
    mail::store::ensure_secret(db).await.map(|_| ())
}

/// The desk's navigation entries.
pub fn nav() -> Vec<NavItem> {
    vec![
        NavItem {
            key: "desk",
            label: "Inbox",
            href: "/desk",
            audience: Audience::Staff,
        },
        NavItem {
            key: "settings",
            label: "Desk settings",
            href: "/desk/settings",
            audience: Audience::Admins,
        },
        NavItem {
            key: "portal",
            label: "My requests",
            href: "/portal",
            audience: Audience::Customers,
        },
        NavItem {
            key: "support",
            label: "Contact support",
            href: "/support/new",
            audience: Audience::Everyone,
        },
    ]
}

/// Help text for the desk's metrics (so `promtool check metrics` is clean).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "opsdesk_tickets_created_total",
        "Tickets filed, by channel (web, email, api)."
    );
    metrics::describe_counter!(
        "opsdesk_mail_received_total",
        "Inbound emails taken in, by outcome (created, appended, reopened, linked, duplicate, bounce, rejected)."
    );
    metrics::describe_counter!(
        "opsdesk_mail_sent_total",
        "Outgoing emails accepted by the SMTP server."
    );
    metrics::describe_counter!(
        "opsdesk_mail_failed_total",
        "Outgoing emails given up on (permanent SMTP error or out of attempts)."
    );
    metrics::describe_counter!(
        "opsdesk_support_form_spam_total",
        "Support form posts dropped because the honeypot field was filled."
    );
}
