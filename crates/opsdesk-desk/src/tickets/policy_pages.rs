//! Desk policy forms on the ticket page: answer an unsupported request with its policy and
//! close the ticket; merge a duplicate; link a related ticket.

use std::collections::BTreeMap;

use axum::extract::{Path, State as AxState};
use axum::response::IntoResponse;
use serde::Deserialize;
use tower_sessions::Session;

use super::pages::{answer, require_staff};
use super::policy::{self, UnsupportedInput};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::PageResult;

#[derive(Deserialize)]
pub struct UnsupportedForm {
    #[serde(default, rename = "type")]
    kind: String,
}

pub async fn unsupported(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    ApiForm(f): ApiForm<UnsupportedForm>,
) -> PageResult {
    require_staff(&me)?;
    let outcome = policy::mark_unsupported(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &reference,
        UnsupportedInput {
            kind: f.kind.clone(),
        },
    )
    .await
    .map(|t| {
        format!(
            "Sent the policy answer to {} and closed the ticket.",
            t.requester.email
        )
    });
    let draft = BTreeMap::from([("type".into(), f.kind)]);
    answer(
        &state,
        &session,
        &me,
        &reference,
        "unsupported",
        outcome,
        draft,
    )
    .await
}

#[derive(Deserialize)]
pub struct OtherForm {
    #[serde(default)]
    ticket: String,
}

pub async fn merge(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    ApiForm(f): ApiForm<OtherForm>,
) -> PageResult {
    require_staff(&me)?;
    let input = super::merge::OtherTicket {
        ticket: f.ticket.clone(),
    };
    let outcome = super::merge::merge(&state.db, &me.actor(), me.user(), &reference, input).await;
    match outcome {
        Ok(kept) => {
            opsdesk_core::web::pages::flash(
                &session,
                format!("Merged into #{}; this ticket is closed.", kept.number),
            )
            .await;
            Ok(
                axum::response::Redirect::to(&format!("/desk/tickets/{}", kept.number))
                    .into_response(),
            )
        }
        Err(e) => {
            let draft = BTreeMap::from([("ticket".into(), f.ticket)]);
            answer(&state, &session, &me, &reference, "merge", Err(e), draft).await
        }
    }
}

pub async fn link(
    AxState(state): AxState<AppState>,
    session: Session,
    me: PageUser,
    Path(reference): Path<String>,
    ApiForm(f): ApiForm<OtherForm>,
) -> PageResult {
    require_staff(&me)?;
    let input = super::merge::OtherTicket {
        ticket: f.ticket.clone(),
    };
    let outcome = super::merge::link(&state.db, &me.actor(), me.user(), &reference, input)
        .await
        .map(|_| format!("Linked to #{}.", f.ticket.trim().trim_start_matches('#')));
    let draft = BTreeMap::from([("ticket".into(), f.ticket)]);
    answer(&state, &session, &me, &reference, "link", outcome, draft).await
}
