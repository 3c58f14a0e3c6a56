//! The impersonation's pages: the customer's portal as they see it — their requests and each
//! request's public conversation — rendered read-only for the agent whose approved
//! impersonation is running, and ending it (by hand, or when its time is up).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tower_sessions::Session;

use super::impersonation;
use crate::web::staff;
use opsdesk_core::audit::Actor;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageResult, Shell, clear_banner, flash, when};
use opsdesk_desk::tickets::model::MessageKind;
use opsdesk_desk::tickets::queries::ListQuery;

const WHY: &str = "Impersonation is for the team.";

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/ops/runs/{id}/portal", get(home))
        .route("/ops/runs/{id}/portal/tickets/{n}", get(ticket))
        .route("/ops/runs/{id}/end", post(end))
}

pub struct TicketLine {
    pub number: i64,
    pub subject: String,
    pub state: String,
    pub updated: String,
}

pub struct MessageLine {
    pub kind: &'static str,
    pub author: String,
    pub when: String,
    pub body: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "ops_portal.html")]
struct PortalPage {
    shell: Shell,
    run_id: String,
    customer: String,
    until: String,
    tickets: Vec<TicketLine>,
    ticket: Option<TicketLine>,
    messages: Vec<MessageLine>,
}

async fn home(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    staff(&me, WHY)?;
    let (run, customer) = impersonation::active(&state.db, me.user(), &id).await?;
    let q = ListQuery {
        states: Vec::new(),
        category: None,
        assignee: None,
        sort: opsdesk_desk::tickets::list_store::Sort::Updated,
        after: None,
        limit: 100,
        q: None,
        due: None,
    };
    let (tickets, _) = opsdesk_desk::tickets::queries::list(&state.db, &customer, &q).await?;
    Ok(PortalPage {
        shell: Shell::load(
            &state,
            &session,
            Some(me.user()),
            "Customer's portal (read-only)",
            "ops",
        )
        .await,
        run_id: run.id,
        until: when(run.ends_at.unwrap_or_default()),
        customer: customer.name,
        // What the customer sees, less what the agent may not (security reports).
        tickets: tickets
            .into_iter()
            .filter(|t| opsdesk_desk::tickets::access::can_view_ticket(me.user(), t))
            .map(|t| TicketLine {
                number: t.number,
                subject: t.subject,
                state: t.state.label().to_string(),
                updated: when(t.updated_at),
            })
            .collect(),
        ticket: None,
        messages: Vec::new(),
    }
    .into_response())
}

async fn ticket(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path((id, n)): Path<(String, String)>,
) -> PageResult {
    staff(&me, WHY)?;
    let (run, customer) = impersonation::active(&state.db, me.user(), &id).await?;
    // What the customer may see, as they see it (their own and their organization's shared
    // requests; public messages only).
    let d = opsdesk_desk::tickets::service::detail(&state.db, &customer, &n).await?;
    if !opsdesk_desk::tickets::access::can_view_ticket(me.user(), &d.ticket) {
        return Err(AppError::not_found("This ticket").into());
    }
    Ok(PortalPage {
        shell: Shell::load(
            &state,
            &session,
            Some(me.user()),
            "Customer's portal (read-only)",
            "ops",
        )
        .await,
        run_id: run.id,
        until: when(run.ends_at.unwrap_or_default()),
        customer: customer.name,
        tickets: Vec::new(),
        ticket: Some(TicketLine {
            number: d.ticket.number,
            subject: d.ticket.subject.clone(),
            state: d.ticket.state.label().to_string(),
            updated: when(d.ticket.updated_at),
        }),
        messages: d
            .messages
            .into_iter()
            .filter(|m| m.kind != MessageKind::Note)
            .map(|m| MessageLine {
                kind: m.kind.as_str(),
                author: match m.kind {
                    MessageKind::Customer => "you".to_string(),
                    _ => "support team".to_string(),
                },
                when: when(m.created_at),
                body: m.body,
            })
            .collect(),
    }
    .into_response())
}

async fn end(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    staff(&me, WHY)?;
    let (run, _) = impersonation::active(&state.db, me.user(), &id).await?;
    let actor: Actor = me.actor();
    impersonation::end(&state.db, &actor, &run, "ended by the agent").await?;
    clear_banner(&session).await;
    flash(&session, "Impersonation ended.").await;
    Ok(Redirect::to(&format!("/ops/runs/{id}")).into_response())
}
