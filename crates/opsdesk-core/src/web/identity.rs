//! Who is calling: the request context (client address, request id) and the signed-in user,
//! resolved once per request by middleware and read by extractors that hand out capabilities.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::accounts::{Role, User};
use crate::audit::Actor;
use crate::auth::tokens::Scope;
use crate::error::AppError;

/// Set by the context middleware on every request.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    pub client_ip: std::net::IpAddr,
    pub request_id: String,
}

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Session,
    Token,
}

/// A signed-in caller.
#[derive(Clone, Debug)]
pub struct Identity {
    pub user: User,
    pub method: AuthMethod,
    /// For tokens, their scope; sessions may do whatever the role allows.
    pub scope: Option<Scope>,
}

impl Identity {
    pub fn can_write(&self) -> bool {
        self.scope != Some(Scope::Read)
    }
}

fn ctx_of(parts: &Parts) -> RequestCtx {
    parts
        .extensions
        .get::<RequestCtx>()
        .cloned()
        .unwrap_or(RequestCtx {
            client_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            request_id: String::new(),
        })
}

/// The actor for audit records: the signed-in user, or `anonymous`.
pub fn actor_of(ctx: &RequestCtx, identity: Option<&Identity>) -> Actor {
    Actor {
        label: identity
            .map(|i| format!("user:{}", i.user.id))
            .unwrap_or_else(|| "anonymous".into()),
        user_id: identity.map(|i| i.user.id.clone()),
        client_ip: ctx.client_ip.to_string(),
        request_id: ctx.request_id.clone(),
    }
}

/// Anyone: the request context and the identity if there is one.
#[derive(Clone, Debug)]
pub struct Caller {
    pub ctx: RequestCtx,
    pub identity: Option<Identity>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        actor_of(&self.ctx, self.identity.as_ref())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            ctx: ctx_of(parts),
            identity: parts.extensions.get::<Identity>().cloned(),
        })
    }
}

/// A signed-in API caller; anonymous requests get a 401 JSON error.
#[derive(Clone, Debug)]
pub struct ApiUser {
    pub ctx: RequestCtx,
    pub identity: Identity,
}

impl ApiUser {
    pub fn user(&self) -> &User {
        &self.identity.user
    }

    pub fn actor(&self) -> Actor {
        actor_of(&self.ctx, Some(&self.identity))
    }

    pub fn require_staff(&self) -> Result<&Self, AppError> {
        if self.identity.user.role.is_staff() {
            Ok(self)
        } else {
            Err(AppError::forbidden("This needs an agent or admin account."))
        }
    }

    pub fn require_admin(&self) -> Result<&Self, AppError> {
        if self.identity.user.role == Role::Admin {
            Ok(self)
        } else {
            Err(AppError::forbidden("This needs an admin account."))
        }
    }

    /// Changes need a session or a read-write token.
    pub fn require_write(&self) -> Result<&Self, AppError> {
        if self.identity.can_write() {
            Ok(self)
        } else {
            Err(AppError::forbidden(
                "This token is read-only; create a token with the write scope.",
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(identity) => Ok(ApiUser {
                ctx: ctx_of(parts),
                identity: identity.clone(),
            }),
            None => Err(AppError::unauthorized(
                "Sign in, or send an API token as `Authorization: Bearer <token>`.",
            )),
        }
    }
}

/// A signed-in person on a page; anonymous visitors are sent to the login page and back.
#[derive(Clone, Debug)]
pub struct PageUser {
    pub ctx: RequestCtx,
    pub identity: Identity,
}

impl PageUser {
    pub fn user(&self) -> &User {
        &self.identity.user
    }

    pub fn actor(&self) -> Actor {
        actor_of(&self.ctx, Some(&self.identity))
    }
}

/// Sends the visitor to the login page, remembering where they were going.
pub struct LoginRedirect(String);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        let next: String = url::form_urlencoded::byte_serialize(self.0.as_bytes()).collect();
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageUser {
    type Rejection = LoginRedirect;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(identity) => Ok(PageUser {
                ctx: ctx_of(parts),
                identity: identity.clone(),
            }),
            None => Err(LoginRedirect(
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into()),
            )),
        }
    }
}
