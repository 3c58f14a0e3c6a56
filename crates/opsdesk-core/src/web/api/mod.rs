//! The JSON API and its OpenAPI 3.1 description (served at `/api/openapi.json`, browsable at
//! `/api/docs`). Every route here is documented; the spec is generated from the handlers.

pub mod audit;
pub mod system;
pub mod tokens;
pub mod users;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "opsdesk API", description = "Support desk and operations API. Authenticate with `Authorization: Bearer <token>` (create tokens under Account or with `opsdesk token create`). Errors are `{\"error\":{\"code\",\"message\",\"fields\"}}`; lists use cursor pagination via `next_cursor`."),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health, identity and setup"),
        (name = "users", description = "Accounts"),
        (name = "tokens", description = "Your API tokens"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "jobs", description = "Background jobs"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::me))
        .routes(routes!(system::setup_json))
        .routes(routes!(system::noop))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get))
        .routes(routes!(users::set_role))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(audit::jobs))
        .routes(routes!(audit::retry))
}
