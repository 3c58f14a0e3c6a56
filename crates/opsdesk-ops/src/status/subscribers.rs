//! Email updates from the status page: people subscribe with their address, confirm through
//! the link they are sent (double opt-in, so nobody subscribes someone else), and every
//! message carries the link that removes them. Public incident updates go to the confirmed.

use opsdesk_core::accounts::model::EmailAddress;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_desk::mail::outbox;
use opsdesk_mail::parse::Address;

use super::subscribers_store::{self as store, SubscriberRow};

fn token() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

async fn brand(db: &Db) -> String {
    opsdesk_core::setup::instance(db)
        .await
        .map(|i| i.brand_name)
        .unwrap_or_else(|_| "opsdesk".into())
}

/// Records a pending subscription and sends the confirmation link. The answer is the same
/// whether the address was subscribed already or not.
pub async fn subscribe(
    db: &Db,
    mail: &MailConfig,
    base: &str,
    raw_email: &str,
) -> Result<(), AppError> {
    let email = EmailAddress::parse(raw_email).map_err(|p| AppError::field("email", p))?;
    let now = now_ms();
    let brand = brand(db).await;
    let mut tx = db.begin().await?;
    let row = store::upsert(&mut tx, &new_id(), email.as_str(), &token(), now).await?;
    let sender = outbox::identity(&mut tx).await?;
    let link = format!("{base}/status/subscriptions/{}", row.token);
    outbox::queue_notice(
        &mut tx,
        mail,
        &sender,
        &Address {
            email: row.email.clone(),
            name: None,
        },
        "status-subscribe",
        &format!("Confirm your {brand} status updates"),
        &format!(
            "Someone (hopefully you) asked for {brand}'s incident updates at this address.\n\n\
             Confirm here: {link}\n\nIf it was not you, ignore this message: nothing is sent \
             without confirmation."
        ),
        now,
    )
    .await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        Actor::system().entry("status.subscribe", format!("subscriber:{}", row.id), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The subscription behind a link.
pub async fn find(db: &Db, token: &str) -> Result<SubscriberRow, AppError> {
    store::by_token(db, token.trim())
        .await?
        .ok_or_else(|| AppError::not_found("This subscription (it may have been removed)"))
}

pub async fn confirm(db: &Db, token: &str) -> Result<SubscriberRow, AppError> {
    let row = find(db, token).await?;
    let mut tx = db.begin().await?;
    store::confirm(&mut tx, &row.token, now_ms()).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        Actor::system().entry(
            "status.subscribe.confirm",
            format!("subscriber:{}", row.id),
            "",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn unsubscribe(db: &Db, token: &str) -> Result<(), AppError> {
    let row = find(db, token).await?;
    let mut tx = db.begin().await?;
    store::remove(&mut tx, &row.token).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        Actor::system().entry("status.unsubscribe", format!("subscriber:{}", row.id), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a public incident update to every confirmed subscriber; returns how many.
pub async fn notify(
    db: &Db,
    mail: &MailConfig,
    base: &str,
    title: &str,
    status: &str,
    body: &str,
) -> Result<usize, AppError> {
    let brand = brand(db).await;
    let list = store::confirmed(db).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let sender = outbox::identity(&mut tx).await?;
    for (email, token) in &list {
        outbox::queue_notice(
            &mut tx,
            mail,
            &sender,
            &Address {
                email: email.clone(),
                name: None,
            },
            "status-update",
            &format!("[{brand} status] {title}: {status}"),
            &format!(
                "{title} — {status}\n\n{body}\n\nThe status page: {base}/status\n\
                 Stop these emails: {base}/status/subscriptions/{token}"
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(list.len())
}
