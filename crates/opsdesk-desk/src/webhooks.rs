//! Outgoing webhooks as durable jobs: a JSON body posted to a URL, retried until the receiver
//! answers 2xx. Bodies carry `text` too, so a Slack or Mattermost incoming-webhook URL works as
//! it is. URLs are never logged (they carry the receiver's secret).

use std::time::Duration;

use serde_json::{Value, json};

use opsdesk_core::db::Tx;
use opsdesk_core::jobs::{NewJob, Registry, store as jobs};

pub const KIND: &str = "webhook.post";

/// Posts go out in the order they were queued (a warning before its breach, a request before
/// its reply).
pub fn register(registry: &mut Registry) {
    registry.register_in_order(KIND, |ctx| async move { post(&ctx.payload).await });
}

/// Queues a post in the transaction of the change it reports.
pub async fn enqueue(tx: &mut Tx, url: &str, body: Value) -> Result<(), sqlx::Error> {
    jobs::enqueue(tx, &NewJob::now(KIND, json!({"url": url, "body": body}))).await?;
    Ok(())
}

/// Whether a URL may receive webhooks: http(s) with a host, at most 2,000 characters.
pub fn check_url(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    let ok = raw.len() <= 2_000
        && url::Url::parse(raw)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if ok {
        Ok(raw.to_string())
    } else {
        Err("must be an http:// or https:// URL of at most 2,000 characters")
    }
}

/// Posts one body; an error (no answer, or not 2xx) leaves the job to be retried.
async fn post(payload: &Value) -> anyhow::Result<()> {
    let url = payload["url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("webhook job without a url"))?;
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .post(url)
        .json(&payload["body"])
        .send()
        .await
        // The error would name the URL; say what happened without it.
        .map_err(|e| anyhow::anyhow!("the webhook did not answer: {}", e.without_url()))?;
    if !r.status().is_success() {
        anyhow::bail!("the webhook answered {}", r.status());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_urls_receive_webhooks() {
        assert!(check_url(" https://hooks.slack.com/services/T0/B0/x ").is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        for bad in [
            "",
            "ftp://example.com/x",
            "not a url",
            "https://",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2_000))).is_err());
    }
}
