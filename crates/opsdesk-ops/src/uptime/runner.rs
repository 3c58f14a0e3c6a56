//! Runs a monitor once: its steps in order, over one cookie jar, each request timed and judged
//! by its conditions; a value captured from one step's JSON fills `{{name}}` in later steps.
//! The first failing step ends the run, and the result names it and says why. Connections go
//! only to addresses the target policy allows (names are resolved and checked first; literal
//! addresses and redirects are checked too).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::cert;
use super::conditions::Observed;
use super::model::{Checked, fill};
use super::targets::Policy;
use opsdesk_core::clock::now_ms;

/// Bytes of a response body read for conditions; the rest is not read.
const BODY_LIMIT: usize = 1024 * 1024;

/// How one step went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepResult {
    pub name: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub ms: i64,
    /// Failed conditions (as Gatus shows them) or what went wrong on the wire.
    pub problems: Vec<String>,
}

/// How a run went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    pub ok: bool,
    /// Time of all steps run.
    pub ms: i64,
    /// The last step's status code.
    pub status: Option<u16>,
    pub failed_step: Option<String>,
    pub error: Option<String>,
    pub steps: Vec<StepResult>,
}

/// Resolves names and keeps only the addresses the policy allows.
struct Guarded(Arc<Policy>);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut why = None;
            let ok: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refuses(a.ip()) {
                    Some(w) => {
                        why = Some(w);
                        false
                    }
                    None => true,
                })
                .collect();
            if ok.is_empty() {
                let msg = why.unwrap_or_else(|| format!("{host} did not resolve"));
                return Err(msg.into());
            }
            let addrs: Addrs = Box::new(ok.into_iter());
            Ok(addrs)
        })
    }
}

/// A literal IP host the policy refuses.
fn refused_literal(policy: &Policy, url: &reqwest::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(a) => std::net::IpAddr::V4(a),
        url::Host::Ipv6(a) => std::net::IpAddr::V6(a),
        url::Host::Domain(_) => return None,
    };
    policy.refuses(ip)
}

/// Clients shared by single-step runs (no cookies kept between runs), by (follow redirects,
/// accept invalid certificates).
pub struct Clients {
    policy: Arc<Policy>,
    shared: [[reqwest::Client; 2]; 2],
}

fn build(
    policy: &Arc<Policy>,
    follow: bool,
    insecure: bool,
    jar: Option<Arc<reqwest::cookie::Jar>>,
) -> reqwest::Client {
    let guard = policy.clone();
    let redirect = if follow {
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 10 {
                attempt.error("too many redirects (more than 10)")
            } else if let Some(why) = refused_literal(&guard, attempt.url()) {
                attempt.error(why)
            } else {
                attempt.follow()
            }
        })
    } else {
        reqwest::redirect::Policy::none()
    };
    let mut b = reqwest::Client::builder()
        .redirect(redirect)
        .tls_info(true)
        .tls_danger_accept_invalid_certs(insecure)
        .dns_resolver(Arc::new(Guarded(policy.clone())))
        .user_agent(concat!("opsdesk-monitor/", env!("CARGO_PKG_VERSION")))
        // A proxy would resolve names itself, past the target policy.
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(jar) = jar {
        b = b.cookie_provider(jar);
    }
    b.build().unwrap_or_else(|_| reqwest::Client::new())
}

impl Clients {
    pub fn new(policy: Policy) -> Clients {
        let policy = Arc::new(policy);
        let shared = [
            [
                build(&policy, false, false, None),
                build(&policy, false, true, None),
            ],
            [
                build(&policy, true, false, None),
                build(&policy, true, true, None),
            ],
        ];
        Clients { policy, shared }
    }

    /// Runs the steps; `timeout` bounds each request.
    pub async fn run(&self, steps: &[Checked], timeout: Duration, insecure: bool) -> RunResult {
        // Multi-step flows carry cookies from step to step in a jar of their own.
        let jar = (steps.len() > 1).then(|| Arc::new(reqwest::cookie::Jar::default()));
        let mut own: Vec<((bool, bool), reqwest::Client)> = Vec::new();
        let mut vars: Vec<(String, String)> = Vec::new();
        let mut results = Vec::new();
        let mut total = 0;
        for s in steps {
            let follow = s.step.follows();
            let client = match &jar {
                None => self.shared[usize::from(follow)][usize::from(insecure)].clone(),
                Some(j) => match own.iter().find(|(k, _)| *k == (follow, insecure)) {
                    Some((_, c)) => c.clone(),
                    None => {
                        let c = build(&self.policy, follow, insecure, Some(j.clone()));
                        own.push(((follow, insecure), c.clone()));
                        c
                    }
                },
            };
            let (r, captured) = self.step(&client, s, &vars, timeout).await;
            total += r.ms;
            vars.extend(captured);
            let ok = r.ok;
            results.push(r);
            if !ok {
                break;
            }
        }
        let failed = results.iter().find(|r| !r.ok);
        RunResult {
            ok: failed.is_none() && !results.is_empty(),
            ms: total,
            status: results.last().and_then(|r| r.status),
            failed_step: failed.map(|r| r.name.clone()),
            error: failed.map(|r| r.problems.join("; ")),
            steps: results,
        }
    }

    async fn step(
        &self,
        client: &reqwest::Client,
        s: &Checked,
        vars: &[(String, String)],
        timeout: Duration,
    ) -> (StepResult, Vec<(String, String)>) {
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let url = fill(&s.step.url, &pairs);
        let mut result = StepResult {
            name: s.step.name.clone(),
            ok: false,
            status: None,
            ms: 0,
            problems: Vec::new(),
        };
        let parsed = match reqwest::Url::parse(&url) {
            Ok(u) => u,
            Err(_) => {
                result
                    .problems
                    .push("the URL, with captured values filled in, is not a URL".into());
                return (result, Vec::new());
            }
        };
        if let Some(why) = refused_literal(&self.policy, &parsed) {
            result.problems.push(why);
            return (result, Vec::new());
        }
        let method =
            reqwest::Method::from_bytes(s.step.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = client.request(method, parsed).timeout(timeout);
        for (k, v) in &s.step.headers {
            req = req.header(k.as_str(), fill(v, &pairs));
        }
        if !s.step.body.is_empty() {
            req = req.body(fill(&s.step.body, &pairs));
        }
        let started = Instant::now();
        let mut seen = Observed::default();
        match req.send().await {
            Ok(mut resp) => {
                seen.connected = true;
                seen.status = Some(resp.status().as_u16());
                seen.headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                seen.certificate_expires_in_ms = resp
                    .extensions()
                    .get::<reqwest::tls::TlsInfo>()
                    .and_then(|t| t.peer_certificate())
                    .and_then(cert::not_after_ms)
                    .map(|t| t - now_ms());
                let mut body = Vec::new();
                loop {
                    match resp.chunk().await {
                        Ok(Some(c)) => {
                            let room = BODY_LIMIT.saturating_sub(body.len());
                            body.extend_from_slice(&c[..c.len().min(room)]);
                            if body.len() >= BODY_LIMIT {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            result.problems.push(describe(&e));
                            break;
                        }
                    }
                }
                seen.body = String::from_utf8_lossy(&body).into_owned();
            }
            Err(e) => result.problems.push(describe(&e)),
        }
        result.ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        seen.response_time_ms = result.ms;
        result.status = seen.status;
        if result.problems.is_empty() {
            for c in &s.conditions {
                if let Err(why) = c.check(&seen) {
                    result.problems.push(why);
                }
            }
        }
        let mut captured = Vec::new();
        if result.problems.is_empty() {
            for (name, path) in &s.step.capture {
                match super::conditions::body_value(&seen.body, path) {
                    Ok(v) => captured.push((name.clone(), v)),
                    Err(e) => result.problems.push(format!("capture {name}: {e}")),
                }
            }
        }
        result.ok = result.problems.is_empty();
        (result, captured)
    }
}

/// What went wrong on the wire, in words (never the URL's secrets).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut root = e.source();
    let mut detail = String::new();
    while let Some(s) = root {
        detail = s.to_string();
        root = s.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_redirect() {
        format!("redirect refused: {detail}")
    } else if e.is_connect() {
        format!("could not connect: {detail}")
    } else if e.is_body() || e.is_decode() {
        format!("the response broke off: {detail}")
    } else {
        format!("request failed: {detail}")
    };
    what.trim_end_matches(": ").to_string()
}
