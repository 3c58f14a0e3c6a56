//! Desk policy forms on the ticket page: answer an unsupported request with its policy and
//! close the ticket.

use std::collections::BTreeMap;

use axum::extract::{Path, State as AxState};
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
