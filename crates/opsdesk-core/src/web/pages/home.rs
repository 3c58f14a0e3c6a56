//! The overview page a signed-in person lands on.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use tower_sessions::Session;

use super::{PageResult, Shell, when};
use crate::accounts::{Role, User};
use crate::audit::store::{AuditFilter, list};
use crate::jobs::QueueStats;
use crate::setup::Instance;
use crate::web::identity::PageUser;
use crate::web::state::AppState;

pub struct DeskStats {
    pub users: i64,
    pub queue: QueueStats,
    pub backend: &'static str,
}

pub struct RecentRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    shell: Shell,
    instance: Instance,
    me: User,
    stats: Option<DeskStats>,
    recent: Vec<RecentRow>,
}

pub async fn home(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    let user = me.user().clone();
    let instance = crate::setup::instance(&state.db).await?;
    let (stats, recent) = if user.role == Role::Admin {
        let stats = DeskStats {
            users: crate::accounts::store::count_users(&state.db).await?,
            queue: crate::jobs::store::stats(&state.db).await?,
            backend: state.db.backend().name(),
        };
        let recent = list(&state.db, &AuditFilter::default(), 8)
            .await?
            .into_iter()
            .map(|r| RecentRow {
                when: when(r.at),
                actor: r.actor,
                action: r.action,
                target: r.target,
            })
            .collect();
        (Some(stats), recent)
    } else {
        (None, Vec::new())
    };
    let shell = Shell::load(&state, &session, Some(&user), "Overview", "home").await;
    Ok(HomePage {
        shell,
        instance,
        me: user,
        stats,
        recent,
    }
    .into_response())
}
