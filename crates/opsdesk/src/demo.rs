//! `opsdesk demo`: a realistic small team so a newcomer sees a populated desk. Safe to run twice.

use anyhow::Context as _;
use opsdesk_core::accounts::service::{self as accounts, NewUserInput};
use opsdesk_core::audit::Actor;
use opsdesk_core::config::Config;
use opsdesk_core::setup::{self, SetupInput};

use crate::open_db;

/// The demo admin's credentials, printed at the end.
pub const DEMO_ADMIN: &str = "admin@demo.opsdesk.test";
pub const DEMO_PASSWORD: &str = "demo-password-1";

const PEOPLE: &[(&str, &str, &str, &str)] = &[
    ("maria.lopez@demo.opsdesk.test", "María López", "agent", ""),
    ("sam.okafor@demo.opsdesk.test", "Sam Okafor", "agent", ""),
    ("jun.park@demo.opsdesk.test", "Jun Park", "agent", ""),
    (
        "dana@brightpixel.example",
        "Dana Whitfield",
        "customer",
        "Brightpixel Agency",
    ),
    (
        "lee@brightpixel.example",
        "Lee Chen",
        "customer",
        "Brightpixel Agency",
    ),
    (
        "ops@northwind.example",
        "Northwind Ops",
        "customer",
        "Northwind Traders",
    ),
    ("frank@solo-shop.example", "Frank Müller", "customer", ""),
];

pub async fn seed(config: &Config) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let actor = Actor::cli();
    if !setup::is_complete(&db).await? {
        let input = SetupInput {
            brand_name: "Pixelforge Support".into(),
            support_email: "support@demo.opsdesk.test".into(),
            timezone: "Europe/Berlin".into(),
            admin_name: "Alex Admin".into(),
            admin_email: DEMO_ADMIN.into(),
            admin_password: DEMO_PASSWORD.into(),
        };
        setup::complete(&db, &actor, input, None)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))
            .context("completing setup")?;
        eprintln!("set up the demo desk; sign in as {DEMO_ADMIN} / {DEMO_PASSWORD}");
    }
    let mut added = 0;
    for (email, name, role, org) in PEOPLE {
        if accounts::find(&db, email).await.is_ok() {
            continue;
        }
        let input = NewUserInput {
            email: (*email).into(),
            name: (*name).into(),
            role: (*role).into(),
            password: DEMO_PASSWORD.into(),
            organization: (*org).into(),
            security: *email == "maria.lopez@demo.opsdesk.test",
        };
        accounts::create_user(&db, &actor, input)
            .await
            .map_err(|e| anyhow::anyhow!("{email}: {}", e.message))?;
        added += 1;
    }
    opsdesk_desk::prepare(&db).await?;
    let tickets = opsdesk_desk::demo::seed(&db, &config.mail, "maria.lopez@demo.opsdesk.test")
        .await
        .map_err(|e| anyhow::anyhow!("demo tickets: {}", e.message))?;
    eprintln!(
        "demo data ready: {added} people and {tickets} tickets added (password for all: {DEMO_PASSWORD})"
    );
    db.close().await;
    Ok(())
}
