//! A channel hears of a check's changes in order: a notification overtaken by a later one that
//! was already delivered (it waited on retries while the check came back) is not sent — a
//! stale "down" after the "up" would tell the on-call person of a state that has passed.

use serde_json::Value;
use sqlx::Row as _;

use crate::heartbeats::monitored;
use crate::helpers::{Backend, spawn_app};
use crate::mail::drain;
use crate::on_both;
use crate::sla_timers::{posted, receiver};
use opsdesk_core::audit::Actor;

on_both!(a_late_notification_never_overtakes_a_later_change);

async fn a_late_notification_never_overtakes_a_later_change(backend: Backend) {
    let (hook, got) = receiver().await;
    let m = monitored(spawn_app(backend).await).await;
    let db = &m.app.state.db;
    opsdesk_ops::alerts::service::create(db, &Actor::cli(), "Hook", "webhook", &hook)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let check = m
        .create(serde_json::json!({"name": "Nightly backup", "timeout": 60, "grace": 60, "channels": "*"}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    let ping = || async {
        let r = m
            .app
            .client
            .get(m.app.url(&format!("/ping/{uuid}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200);
    };
    ping().await;
    drain(&m.app).await;

    // Down (found by the sweep), then up again, before either notification went out.
    let later = opsdesk_core::clock::now_ms() + 121_000;
    let down = opsdesk_ops::heartbeats::sweep::sweep(db, later)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(down, 1);
    ping().await;
    let rows = sqlx::query(
        "SELECT n.id, f.new_status FROM alert_notifications n JOIN hb_flips f ON f.id = n.flip_id \
         WHERE n.check_id = $1 ORDER BY n.id",
    )
    .bind(&uuid)
    .fetch_all(db.read())
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let queued: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let id: String = r.try_get("id").unwrap_or_default();
            let status: String = r.try_get("new_status").unwrap_or_default();
            (id, status)
        })
        .collect();
    let statuses: Vec<&str> = queued.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(statuses, ["down", "up"], "{queued:?}");

    // The "up" is delivered first (the "down" is still waiting on its retry): the "down" then
    // is not sent at all, and says why.
    let mail = &m.app.state.config.mail;
    let deliver = |id: String| async move {
        opsdesk_ops::alerts::notify::deliver(db, mail, None, &id, 1)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    };
    deliver(queued[1].0.clone()).await;
    deliver(queued[0].0.clone()).await;
    drain(&m.app).await;
    let posts = posted(&got, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let posts_now: Vec<Value> = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(posts_now.len(), 1, "only the up was sent: {posts_now:?}");
    assert_eq!(posts[0]["event"], "check.up");
    let state = |id: String| async move {
        sqlx::query("SELECT state, error FROM alert_notifications WHERE id = $1")
            .bind(id)
            .fetch_one(db.read())
            .await
            .map(|r| {
                let state: String = r.try_get("state").unwrap_or_default();
                let error: Option<String> = r.try_get("error").unwrap_or_default();
                (state, error.unwrap_or_default())
            })
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(state(queued[1].0.clone()).await.0, "sent");
    let (old, why) = state(queued[0].0.clone()).await;
    assert_eq!(old, "superseded");
    assert!(why.contains("later change"), "{why}");

    // A change after that is news again.
    let down_again = opsdesk_ops::heartbeats::sweep::sweep(db, later + 400_000)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(down_again, 1);
    drain(&m.app).await;
    let posts = posted(&got, 2).await;
    assert_eq!(posts[1]["event"], "check.down");
}
