//! The public support form (`/support/new`): anyone may file a request without an account or
//! JavaScript. A honeypot field and the per-IP form rate limit keep bots out.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use crate::tickets::filing;
use crate::tickets::model::{Category, Channel};
use crate::tickets::service::NewTicket;
use crate::uploads::FormWithFiles;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::Caller;
use opsdesk_core::web::pages::{PageResult, Shell, field_errors, flash};

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SupportForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub description: String,
    /// Hidden from people; bots fill it in.
    #[serde(default)]
    pub website: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "support_new.html")]
struct SupportPage {
    shell: Shell,
    form: SupportForm,
    categories: Vec<Category>,
    errors: BTreeMap<String, String>,
    signed_in: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "support_done.html")]
struct DonePage {
    shell: Shell,
}

async fn page(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    form: SupportForm,
    errors: BTreeMap<String, String>,
) -> Result<SupportPage, opsdesk_core::web::pages::PageError> {
    let user = caller.identity.as_ref().map(|i| &i.user);
    let shell = Shell::load(state, session, user, "Contact support", "support").await;
    Ok(SupportPage {
        shell,
        form,
        categories: crate::tickets::queries::categories(&state.db).await?,
        errors,
        signed_in: user.is_some(),
    })
}

pub async fn form(State(state): State<AppState>, session: Session, caller: Caller) -> PageResult {
    let mut form = SupportForm::default();
    if let Some(i) = &caller.identity {
        form.name = i.user.name.clone();
        form.email = i.user.email.clone();
    }
    Ok(page(&state, &session, &caller, form, BTreeMap::new())
        .await?
        .into_response())
}

pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    upload: FormWithFiles,
) -> PageResult {
    let form = SupportForm {
        name: upload.text("name"),
        email: upload.text("email"),
        category: upload.text("category"),
        subject: upload.text("subject"),
        description: upload.text("description"),
        website: upload.text("website"),
    };
    if !form.website.trim().is_empty() {
        // A bot filled the hidden field: answer as if it worked, keep nothing, count it.
        metrics::counter!("opsdesk_support_form_spam_total").increment(1);
        tracing::info!(client_ip = %caller.ctx.client_ip, "support form honeypot triggered");
        return Ok(Redirect::to("/support/thanks").into_response());
    }
    let input = NewTicket {
        subject: form.subject.clone(),
        body: form.description.clone(),
        category: Some(form.category.clone()).filter(|c| !c.is_empty()),
        priority: None,
        email: Some(form.email.clone()),
        name: Some(form.name.clone()),
    };
    let user = caller.identity.as_ref().map(|i| &i.user);
    match filing::create(
        &state.db,
        &state.config.mail,
        &caller.actor(),
        user,
        Channel::Web,
        input,
        Some((&crate::mail::api::blobs(&state), &upload.files)),
    )
    .await
    {
        Ok(t) => {
            flash(
                &session,
                format!(
                    "Your request #{} was received. We will answer at {}; mention #{} if you write to us about it.",
                    t.number, t.requester.email, t.number
                ),
            )
            .await;
            Ok(Redirect::to("/support/thanks").into_response())
        }
        Err(e) => {
            let mut errors = field_errors(e)?;
            if let Some(p) = errors.remove("body") {
                errors.insert("description".into(), p);
            }
            let page = page(&state, &session, &caller, form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

pub async fn thanks(State(state): State<AppState>, session: Session, caller: Caller) -> PageResult {
    let user = caller.identity.as_ref().map(|i| &i.user);
    let shell = Shell::load(&state, &session, user, "Request received", "support").await;
    Ok(DonePage { shell }.into_response())
}
