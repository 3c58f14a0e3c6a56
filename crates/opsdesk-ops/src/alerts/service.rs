//! Alert channels' use cases: add and remove, validated and audited.

use super::model::{self, Channel, Kind};
use super::store;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

/// Adds a channel.
pub async fn create(
    db: &Db,
    actor: &Actor,
    name: &str,
    kind: &str,
    target: &str,
) -> Result<Channel, AppError> {
    let mut fields = Fields::default();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        fields.add("name", "must be 1 to 100 characters");
    }
    let kind = fields.check(
        "kind",
        Kind::parse(kind).ok_or("must be email, webhook or slack"),
    );
    let target = kind.and_then(|k| fields.check("target", model::check_target(k, target)));
    fields.finish()?;
    let (Some(kind), Some(target)) = (kind, target) else {
        return Err(AppError::field("kind", "must be email, webhook or slack"));
    };
    let c = Channel {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        kind: kind.as_str().to_string(),
        target,
    };
    let mut tx = db.begin().await?;
    store::insert_channel(&mut tx, &c, now_ms()).await?;
    // The target is not in the audit line: a webhook URL carries its receiver's secret.
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "alert.channel.create",
            format!("channel:{}", c.id),
            format!("name={} kind={}", c.name, c.kind),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Removes a channel from every check.
pub async fn delete(db: &Db, actor: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store::delete_channel(&mut tx, id).await? {
        return Err(AppError::not_found("This channel"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("alert.channel.delete", format!("channel:{id}"), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
