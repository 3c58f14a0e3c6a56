//! The customer portal: sign in with an emailed one-time link (or a password), see your own
//! requests and their public conversation (never internal notes), and reply. Every read goes
//! through the same access rules as the API, so another customer's ticket is "not found" by any
//! URL.

pub mod links;
pub mod orgs;
pub mod space;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use crate::tickets::model::{MessageKind, State as TicketState};
use crate::tickets::queries::{self, ListQuery};
use crate::tickets::service::{self, MessageInput};
use crate::tickets::store::Sort;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::{Caller, PageUser};
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, when};

#[derive(Template, WebTemplate)]
#[template(path = "portal_signin.html")]
struct SignInPage {
    shell: Shell,
    email: String,
    sent: bool,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_confirm.html")]
struct ConfirmPage {
    shell: Shell,
    token: String,
    valid: bool,
}

struct Line {
    number: i64,
    subject: String,
    /// Who asked, when it was a colleague (organization sharing).
    requester: Option<String>,
    state: &'static str,
    state_label: &'static str,
    updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_home.html")]
struct HomePage {
    shell: Shell,
    tickets: Vec<Line>,
    /// The organization's shared space, when its plan has one: its name.
    space: Option<String>,
}

struct Entry {
    kind: &'static str,
    author: String,
    when: String,
    body: String,
    /// (file name, download link)
    files: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_ticket.html")]
struct TicketPage {
    shell: Shell,
    number: i64,
    subject: String,
    state: &'static str,
    state_label: &'static str,
    opened: String,
    entries: Vec<Entry>,
    error: Option<String>,
    draft: String,
}

/// Where a request stands, as customers see it (the portal and their organization's channel).
pub(crate) fn label(s: TicketState) -> &'static str {
    // Customers see where their request stands, not the team's internal steps.
    match s {
        TicketState::New => "Received",
        TicketState::WaitingOnCustomer => "Waiting for you",
        TicketState::Resolved => "Resolved",
        TicketState::Closed => "Closed",
        _ => "In progress",
    }
}

/// The portal: your requests, or the sign-in form.
pub async fn home(State(state): State<AppState>, session: Session, caller: Caller) -> PageResult {
    let Some(identity) = &caller.identity else {
        let shell = Shell::load(&state, &session, None, "Your requests", "portal").await;
        return Ok(SignInPage {
            shell,
            email: String::new(),
            sent: false,
            error: None,
        }
        .into_response());
    };
    let me = &identity.user;
    if me.role.is_staff() {
        return Ok(Redirect::to("/desk").into_response());
    }
    let q = ListQuery {
        states: Vec::new(),
        category: None,
        assignee: None,
        sort: Sort::Updated,
        after: None,
        limit: 100,
        q: None,
        due: None,
    };
    let tickets = queries::list_for_requester(&state.db, me, &me.id, &q)
        .await?
        .into_iter()
        .map(|t| Line {
            number: t.number,
            requester: (t.requester.id != me.id).then(|| t.requester.name.clone()),
            subject: t.subject,
            state: t.state.as_str(),
            state_label: label(t.state),
            updated: when(t.updated_at),
        })
        .collect();
    let space = space::space_of(&state.db, me).await?.map(|(org, _, _)| org);
    let shell = Shell::load(&state, &session, Some(me), "Your requests", "portal").await;
    Ok(HomePage {
        shell,
        tickets,
        space,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    email: String,
}

/// Mails a sign-in link; the answer is the same whether or not the address has an account.
pub async fn request_link(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    ApiForm(f): ApiForm<LinkForm>,
) -> PageResult {
    let shell = Shell::load(&state, &session, None, "Your requests", "portal").await;
    if opsdesk_core::accounts::model::EmailAddress::parse(&f.email).is_err() {
        let page = SignInPage {
            shell,
            email: f.email,
            sent: false,
            error: Some("Enter the email address you wrote to us from.".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let base = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.listen));
    links::request(
        &state.db,
        &state.config.mail,
        &base,
        &caller.actor(),
        &f.email,
    )
    .await?;
    Ok(SignInPage {
        shell,
        email: f.email.trim().to_string(),
        sent: true,
        error: None,
    }
    .into_response())
}

/// The page a link opens: one button, so mail scanners that fetch links do not use it up.
pub async fn confirm(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    let shell = Shell::load(&state, &session, None, "Sign in", "portal").await;
    let valid = links::plausible(&token);
    let page = ConfirmPage {
        shell,
        token: if valid { token } else { String::new() },
        valid,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok((status, page).into_response())
}

/// Uses the link and signs the customer in.
pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Path(token): Path<String>,
) -> PageResult {
    match links::consume(&state.db, &caller.actor(), &token).await? {
        Some(user_id) => {
            opsdesk_core::web::pages::auth::start_session(&session, &user_id).await?;
            Ok(Redirect::to("/portal").into_response())
        }
        None => {
            state.auth_log.failure(
                "(sign-in link)",
                &caller.actor().client_ip,
                opsdesk_core::auth::authlog::Reason::BadToken,
                "/portal/login",
            );
            let shell = Shell::load(&state, &session, None, "Sign in", "portal").await;
            let page = ConfirmPage {
                shell,
                token: String::new(),
                valid: false,
            };
            Ok((StatusCode::GONE, page).into_response())
        }
    }
}

async fn ticket_page(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    reference: &str,
    error: Option<String>,
    draft: String,
) -> Result<TicketPage, PageError> {
    let d = service::detail(&state.db, me.user(), reference).await?;
    let entries = d
        .messages
        .iter()
        .filter(|m| m.kind != MessageKind::Note)
        .map(|m| Entry {
            kind: m.kind.as_str(),
            author: m
                .author
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            when: when(m.created_at),
            body: m.body.clone(),
            files: d
                .attachments
                .iter()
                .filter(|a| a.message_id == m.id)
                .map(|a| {
                    (
                        a.filename.clone(),
                        format!("/api/tickets/{}/attachments/{}", d.ticket.number, a.id),
                    )
                })
                .collect(),
        })
        .collect();
    let title = format!("#{} {}", d.ticket.number, d.ticket.subject);
    let shell = Shell::load(state, session, Some(me.user()), &title, "portal").await;
    Ok(TicketPage {
        shell,
        number: d.ticket.number,
        subject: d.ticket.subject.clone(),
        state: d.ticket.state.as_str(),
        state_label: label(d.ticket.state),
        opened: when(d.ticket.created_at),
        entries,
        error,
        draft,
    })
}

/// One of your requests.
pub async fn ticket(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
) -> PageResult {
    Ok(
        ticket_page(&state, &session, &me, &reference, None, String::new())
            .await?
            .into_response(),
    )
}

/// Your reply (a resolved request reopens).
pub async fn reply(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    f: crate::uploads::FormWithFiles,
) -> PageResult {
    let input = MessageInput {
        body: f.text("body"),
        confirm: false,
    };
    let blobs = crate::mail::api::blobs(&state);
    let files = Some((&blobs, f.files.as_slice()));
    match service::add_message_with_files(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &reference,
        input,
        files,
    )
    .await
    {
        Ok(_) => {
            flash(&session, "Your reply was sent.").await;
            let n: String = reference.chars().filter(char::is_ascii_digit).collect();
            Ok(Redirect::to(&format!("/portal/tickets/{n}")).into_response())
        }
        Err(e) if e.code == "validation_failed" => {
            let problem = e
                .fields
                .get("body")
                .map(|p| format!("Your reply {p}."))
                .unwrap_or(e.message);
            let page = ticket_page(
                &state,
                &session,
                &me,
                &reference,
                Some(problem),
                f.text("body"),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}
