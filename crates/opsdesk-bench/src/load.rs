//! The load generator: N connections, each a keep-alive connection looping one request kind
//! until the deadline (written as prepared bytes, see `raw`), recording every latency.

use std::time::{Duration, Instant};

use crate::raw;

pub const ADMIN: &str = "bench@bench.example";
pub const PASSWORD: &str = "bench password 1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Ceiling,
    Health,
    Login,
    ApiMe,
    /// Ticket creation through the API (with search indexing, audit, timeline and outbox rows).
    Tickets,
    /// Raw email intake (`POST /api/inbound/email`): parse, thread, file, acknowledge.
    Email,
    /// The agent inbox page: 50 rows, one filter, counts per state (needs the seeded desk).
    Inbox,
    /// Ticket search through the API (needs the seeded desk).
    Search,
    /// Heartbeat success pings (`GET /ping/<uuid>`) spread over the bench's checks.
    Pings,
}

/// What requests carry: a read-write API token and a signed-in session cookie.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    pub token: String,
    pub cookie: String,
    /// Ping URLs' UUIDs of the heartbeat checks (for `pings`).
    pub checks: std::sync::Arc<Vec<String>>,
}

/// Search queries the `search` workload rotates through (words of the seeded vocabulary).
const QUERIES: [&str; 6] = [
    "export",
    "invoice%20timeout",
    "login%20password%20sso",
    "database%20cache",
    "webhook%20slack",
    "refund%20card",
];

impl Workload {
    pub const ALL: [Workload; 9] = [
        Workload::Ceiling,
        Workload::Health,
        Workload::Login,
        Workload::ApiMe,
        Workload::Tickets,
        Workload::Email,
        Workload::Inbox,
        Workload::Search,
        Workload::Pings,
    ];

    /// Whether the workload reads the seeded desk (100k tickets).
    pub fn needs_seed(self) -> bool {
        matches!(self, Workload::Inbox | Workload::Search)
    }

    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Ceiling => "ceiling",
            Workload::Health => "health",
            Workload::Login => "login",
            Workload::ApiMe => "api-me",
            Workload::Tickets => "tickets",
            Workload::Email => "email",
            Workload::Inbox => "inbox",
            Workload::Search => "search",
            Workload::Pings => "pings",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub workload: Workload,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// The request a workload sends the `i`-th time, as bytes.
fn request(w: Workload, auth: &Auth, i: usize) -> Vec<u8> {
    let bearer = format!("Bearer {}", auth.token);
    match w {
        Workload::Ceiling => raw::request("GET", "/api/noop", &[], b""),
        Workload::Health => raw::request("GET", "/api/health", &[], b""),
        Workload::ApiMe => raw::request("GET", "/api/me", &[("authorization", &bearer)], b""),
        Workload::Login => {
            let form = format!(
                "email={}&password={}",
                ADMIN.replace('@', "%40"),
                PASSWORD.replace(' ', "+")
            );
            raw::request(
                "POST",
                "/login",
                &[("content-type", "application/x-www-form-urlencoded")],
                form.as_bytes(),
            )
        }
        Workload::Tickets => {
            let body = serde_json::json!({
                "subject": format!("Export times out after upgrade ({i})"),
                "body": "Since this morning the CSV export of the billing report stops after 30 seconds with a timeout. Steps: Reports, Billing, Export CSV.",
                "email": format!("customer{}@load.example", i % 500),
                "category": "Product",
            });
            raw::request(
                "POST",
                "/api/tickets",
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                body.to_string().as_bytes(),
            )
        }
        Workload::Email => raw::request(
            "POST",
            "/api/inbound/email",
            &[
                ("authorization", &bearer),
                ("content-type", "message/rfc822"),
            ],
            raw_email(i).as_bytes(),
        ),
        Workload::Inbox => raw::request(
            "GET",
            "/desk?state=open&category=cat-billing",
            &[("cookie", &auth.cookie), ("accept", "text/html")],
            b"",
        ),
        Workload::Search => raw::request(
            "GET",
            &format!("/api/tickets?limit=50&q={}", QUERIES[i % QUERIES.len()]),
            &[("authorization", &bearer)],
            b"",
        ),
        Workload::Pings => {
            let uuid = auth
                .checks
                .get(i.wrapping_mul(7_919) % auth.checks.len().max(1))
                .map(String::as_str)
                .unwrap_or("00000000-0000-0000-0000-000000000000");
            raw::request("GET", &format!("/ping/{uuid}"), &[], b"")
        }
    }
}

/// Sends one request; whether it got the answer the workload expects.
async fn once(conn: &mut raw::Conn, w: Workload, auth: &Auth, i: usize) -> bool {
    match conn.send(&request(w, auth, i)).await {
        Ok(status) => match w {
            Workload::Login => status == 303,
            Workload::Tickets | Workload::Email => status == 201,
            _ => (200..300).contains(&status),
        },
        Err(_) => false,
    }
}

static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A realistic first message from a customer (quoted-printable, a signature), each with its own
/// Message-ID so every one opens a ticket.
fn raw_email(i: usize) -> String {
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "Return-Path: <customer{c}@load.example>\r\n\
         From: Customer {c} <customer{c}@load.example>\r\n\
         To: Support <support@bench.example>\r\n\
         Subject: Export times out after upgrade ({n})\r\n\
         Message-ID: <bench-{n}-{pid}@load.example>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         Hello,\r\n\r\n\
         since this morning the CSV export of the billing report stops after 30 seconds =\r\n\
         with a timeout. Steps: Reports, Billing, Export CSV. Gr=C3=BC=C3=9Fe!\r\n\r\n\
         -- \r\nCustomer {c}\r\n",
        c = i % 500,
        pid = std::process::id(),
    )
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx.min(sorted.len() - 1)]) / 1000.0
}

pub async fn run(
    base: &str,
    w: Workload,
    connections: usize,
    duration: Duration,
    auth: &Auth,
) -> anyhow::Result<Run> {
    eprintln!("running {} for {} s …", w.name(), duration.as_secs());
    let warm_until = Instant::now() + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for conn in 0..connections {
        let mut link = raw::Conn::new(base);
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = conn * 1_000_000;
            while Instant::now() < warm_until {
                once(&mut link, w, &auth, i).await;
                i += 1;
            }
            let end = Instant::now() + duration;
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                if !once(&mut link, w, &auth, i).await {
                    errors += 1;
                }
                i += 1;
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    all.sort_unstable();
    Ok(Run {
        workload: w,
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: percentile(&all, 0.50),
        p95_ms: percentile(&all, 0.95),
        p99_ms: percentile(&all, 0.99),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let v: Vec<u32> = (1..=100).map(|n| n * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn workloads_parse_by_name() {
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.name()), Some(w));
        }
        assert_eq!(Workload::parse("nope"), None);
    }
}
