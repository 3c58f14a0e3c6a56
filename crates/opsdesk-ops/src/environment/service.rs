//! The environment dashboard's use cases: an app reports its facts (nested objects flatten to
//! dotted names), the thresholds on them are evaluated in the same transaction, and a threshold
//! that breaks — or recovers — is recorded as a flip and announced on its channels once.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::rules::Rule;
use super::store::{self, ThresholdRow};
use crate::alerts::notify::{self, Change};
use crate::heartbeats::store as links;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

const MAX_FACTS: usize = 500;
const MAX_VALUE: usize = 1_000;

/// What a report did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reported {
    pub app: String,
    /// Facts taken.
    pub facts: usize,
    /// Thresholds this app breaks now, in words.
    pub broken: Vec<String>,
}

fn check_app(app: &str) -> Result<String, AppError> {
    let app = app.trim();
    if app.is_empty()
        || app.len() > 100
        || app == "*"
        || !app
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(AppError::field(
            "app",
            "must be 1 to 100 letters, digits, . _ or -",
        ));
    }
    Ok(app.to_string())
}

/// Flattens nested objects into dotted names; scalars are kept as JSON.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) -> Result<(), AppError> {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out)?;
            }
        }
        Value::Array(_) => {
            return Err(AppError::field(
                prefix,
                "lists are not facts: report a number, text or true/false",
            ));
        }
        scalar => {
            if prefix.is_empty()
                || prefix.len() > 100
                || !prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return Err(AppError::field(
                    prefix,
                    "fact names are letters, digits, . _ and - (at most 100)",
                ));
            }
            if scalar.to_string().len() > MAX_VALUE {
                return Err(AppError::field(prefix, "is longer than 1,000 characters"));
            }
            out.insert(prefix.to_string(), scalar.clone());
        }
    }
    if out.len() > MAX_FACTS {
        return Err(AppError::field("facts", "at most 500 facts per app"));
    }
    Ok(())
}

/// Takes an app's report.
pub async fn report(db: &Db, app: &str, facts: &Map<String, Value>) -> Result<Reported, AppError> {
    let app = check_app(app)?;
    let mut flat = BTreeMap::new();
    flatten("", &Value::Object(facts.clone()), &mut flat)?;
    let now = now_ms();
    let backend = db.backend();
    let mut tx = db.begin().await?;
    for (k, v) in &flat {
        store::upsert_fact(&mut tx, &app, k, &v.to_string(), now).await?;
    }
    let known: BTreeMap<String, Value> = store::facts_of(&mut tx, &app)
        .await?
        .into_iter()
        .map(|f| (f.key, serde_json::from_str(&f.value).unwrap_or(Value::Null)))
        .collect();
    // Whether a break is news is decided by the rows written, so two reports at once (two
    // instances) announce it once.
    let mut broken = Vec::new();
    for t in store::thresholds_for(&mut tx, &app).await? {
        let Ok(rule) = Rule::parse(&t.rule) else {
            continue;
        };
        let name = format!("{app}: {}", rule.text());
        let (news, old, new, reason) = match rule.check(known.get(&rule.key)) {
            Err(detail) => {
                broken.push(detail.clone());
                let fresh = store::set_break(&mut tx, &t.id, &app, now, &detail).await?;
                (fresh, "up", "down", detail)
            }
            Ok(()) => {
                let cleared = store::clear_break(&mut tx, &t.id, &app).await?;
                (cleared, "down", "up", "met again".to_string())
            }
        };
        if news {
            let c = Change {
                id: &t.id,
                name: &name,
                old,
                new,
                reason: &reason,
                notifies: true,
            };
            notify::record(&mut tx, backend, &Actor::system(), &c, now).await?;
        }
    }
    tx.commit().await?;
    Ok(Reported {
        app,
        facts: flat.len(),
        broken,
    })
}

/// Adds a threshold (for an app, or `*` for all) with the channels that hear of its breaks.
pub async fn add_threshold(
    db: &Db,
    actor: &Actor,
    app: &str,
    rule: &str,
    channels: &[String],
) -> Result<ThresholdRow, AppError> {
    let app = if app.trim() == "*" {
        "*".to_string()
    } else {
        check_app(app)?
    };
    let rule = Rule::parse(rule).map_err(|e| AppError::field("rule", &e))?;
    let all = crate::alerts::store::channels(db).await?;
    for c in channels {
        if !all.iter().any(|a| &a.id == c) {
            return Err(AppError::field(
                "channels",
                &format!("\"{c}\" is not a channel id"),
            ));
        }
    }
    let t = ThresholdRow {
        id: uuid::Uuid::new_v4().to_string(),
        app,
        rule: rule.text(),
    };
    let mut tx = db.begin().await?;
    store::insert_threshold(&mut tx, &t, now_ms()).await?;
    links::set_channels(&mut tx, &t.id, channels).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "environment.threshold.create",
            format!("threshold:{}", t.id),
            format!("app={} rule={}", t.app, t.rule),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

pub async fn remove_threshold(db: &Db, actor: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store::delete_threshold(&mut tx, id).await? {
        return Err(AppError::not_found("This threshold"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "environment.threshold.delete",
            format!("threshold:{id}"),
            "",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A fact as the dashboard shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Fact {
    pub key: String,
    pub value: Value,
    /// When it was last reported (Unix ms).
    pub updated: i64,
    /// The thresholds it breaks, in words.
    pub broken: Vec<String>,
}

/// An app with its facts.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct App {
    pub app: String,
    pub facts: Vec<Fact>,
    /// Its last report (Unix ms).
    pub last_report: i64,
    /// Whether any threshold is broken.
    pub warning: bool,
}

/// Every reporting app with its facts and breaks.
pub async fn dashboard(db: &Db) -> Result<Vec<App>, AppError> {
    let thresholds = store::thresholds(db).await?;
    let breaks = store::all_breaks(db).await?;
    let mut apps: BTreeMap<String, App> = BTreeMap::new();
    for f in store::all_facts(db).await? {
        let broken: Vec<String> = breaks
            .iter()
            .filter(|(tid, app, _, _)| {
                app == &f.app
                    && thresholds
                        .iter()
                        .any(|t| &t.id == tid && Rule::parse(&t.rule).is_ok_and(|r| r.key == f.key))
            })
            .map(|b| b.3.clone())
            .collect();
        let a = apps.entry(f.app.clone()).or_insert_with(|| App {
            app: f.app.clone(),
            facts: Vec::new(),
            last_report: 0,
            warning: false,
        });
        a.last_report = a.last_report.max(f.updated);
        a.warning |= !broken.is_empty();
        a.facts.push(Fact {
            key: f.key,
            value: serde_json::from_str(&f.value).unwrap_or(Value::Null),
            updated: f.updated,
            broken,
        });
    }
    let mut out: Vec<App> = apps.into_values().collect();
    for a in &mut out {
        // A threshold on a fact the app does not report is broken too.
        a.warning = breaks.iter().any(|b| b.1 == a.app);
    }
    Ok(out)
}
