//! What a heartbeat check is: its stored status, the kinds of ping, its schedule (a period, or a
//! five-field cron expression in a time zone) and the keyword filters, each parsed and checked
//! here so the API, the pages and the ping path agree on what is valid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The status a check is stored in. What people see adds `grace` and `started` (see
/// [`super::rules::shown`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    New,
    Up,
    Down,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Up => "up",
            Status::Down => "down",
            Status::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "up" => Status::Up,
            "down" => Status::Down,
            "paused" => Status::Paused,
            _ => Status::New,
        }
    }
}

/// The status shown by the API and the pages, as Healthchecks.io names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    New,
    Up,
    Grace,
    Down,
    Paused,
    Started,
}

impl Shown {
    pub fn as_str(self) -> &'static str {
        match self {
            Shown::New => "new",
            Shown::Up => "up",
            Shown::Grace => "grace",
            Shown::Down => "down",
            Shown::Paused => "paused",
            Shown::Started => "started",
        }
    }
}

/// What a ping says. `Ign` is a ping that was received but does not count (a GET to a POST-only
/// check, a ping to a check paused until resumed by hand, a body matching no keyword).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Success,
    Start,
    Fail,
    Log,
    Ign,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Success => "success",
            Action::Start => "start",
            Action::Fail => "fail",
            Action::Log => "log",
            Action::Ign => "ign",
        }
    }

    pub fn parse(s: &str) -> Action {
        match s {
            "start" => Action::Start,
            "fail" => Action::Fail,
            "log" => Action::Log,
            "ign" => Action::Ign,
            _ => Action::Success,
        }
    }
}

/// Seconds a period or grace time may be: one minute to one year (as Healthchecks.io).
pub const MIN_SECONDS: i64 = 60;
pub const MAX_SECONDS: i64 = 31_536_000;

/// A cron schedule in a time zone, parsed once.
#[derive(Debug)]
pub struct CronSchedule {
    cron: Cron,
    tz: TimeZone,
}

impl CronSchedule {
    /// Parses a five-field cron expression (minute hour day-of-month month day-of-week, with
    /// ranges, lists, steps and names; day-of-month and day-of-week match either, as Vixie cron)
    /// and an IANA time zone name.
    pub fn parse(expr: &str, tz: &str) -> Result<CronSchedule, String> {
        let expr = expr.trim();
        if expr.is_empty() || expr.len() > 100 {
            return Err("must be a cron expression of at most 100 characters".into());
        }
        if expr.split_whitespace().count() != 5 && !expr.starts_with('@') {
            return Err(format!(
                "\"{expr}\" must have five fields: minute hour day-of-month month day-of-week"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| format!("\"{expr}\" is not a valid cron expression: {e}"))?;
        let tz = parse_tz(tz)?;
        let s = CronSchedule { cron, tz };
        // An expression that never fires (`0 0 31 2 *`) is refused now rather than never alerting.
        if s.next_after(Timestamp::now().as_millisecond()).is_none() {
            return Err(format!("\"{expr}\" never fires"));
        }
        Ok(s)
    }

    /// The first time the schedule fires strictly after `ms`.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let at = Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(self.tz.clone());
        let next = self.cron.find_next_occurrence(&at, false).ok()?;
        Some(next.timestamp().as_millisecond())
    }

    /// Parses through a process-wide cache: the ping path meets the same few schedules again
    /// and again.
    pub fn cached(expr: &str, tz: &str) -> Result<Arc<CronSchedule>, String> {
        static CACHE: OnceLock<Mutex<CronCache>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = (expr.to_string(), tz.to_string());
        if let Some(s) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(s);
        }
        let s = Arc::new(CronSchedule::parse(expr, tz)?);
        if let Ok(mut c) = cache.lock() {
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(key, s.clone());
        }
        Ok(s)
    }
}

/// Parsed schedules by (expression, time zone).
type CronCache = HashMap<(String, String), Arc<CronSchedule>>;

/// An IANA time zone name (`Europe/Berlin`, `UTC`), from the bundled database.
pub fn parse_tz(tz: &str) -> Result<TimeZone, String> {
    let tz = tz.trim();
    if tz.is_empty() {
        return Err("must be a time zone name such as UTC or Europe/Berlin".into());
    }
    TimeZone::get(tz).map_err(|_| format!("\"{tz}\" is not a known time zone"))
}

/// When a check expects its pings.
#[derive(Clone, Debug)]
pub enum Period {
    /// Every so many milliseconds.
    Every(i64),
    /// On a cron schedule.
    Cron(Arc<CronSchedule>),
}

/// Keyword filters on ping bodies: comma-separated words; a success ping whose body holds a
/// failure keyword is a failure, one with a success keyword a success, one with a start keyword
/// a start, and one with none of them is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keywords {
    pub start: Vec<String>,
    pub success: Vec<String>,
    pub failure: Vec<String>,
}

impl Keywords {
    pub fn parse(start: &str, success: &str, failure: &str) -> Keywords {
        let list = |s: &str| {
            s.split(',')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        Keywords {
            start: list(start),
            success: list(success),
            failure: list(failure),
        }
    }

    /// What a success ping with this body means.
    pub fn classify(&self, body: &[u8]) -> Action {
        let text = String::from_utf8_lossy(body);
        let has = |words: &[String]| words.iter().any(|w| text.contains(w.as_str()));
        if has(&self.failure) {
            Action::Fail
        } else if has(&self.success) {
            Action::Success
        } else if has(&self.start) {
            Action::Start
        } else {
            Action::Ign
        }
    }
}

/// What the rules need to know of a check's settings.
#[derive(Clone, Debug)]
pub struct Spec {
    pub period: Period,
    pub grace_ms: i64,
    /// Only POST pings count (`methods = "POST"`).
    pub post_only: bool,
    /// A paused check ignores pings until resumed by hand.
    pub manual_resume: bool,
    /// Keyword filtering of success pings, when on.
    pub keywords: Option<Keywords>,
}

/// A check's slug: lower-case letters, digits, `-` and `_`, at most 100 characters.
pub fn check_slug(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        Ok(s.to_string())
    } else {
        Err("may hold only a-z, 0-9, - and _ (at most 100 characters)")
    }
}

/// The slug Healthchecks.io derives from a name: lower case, runs of other characters as `-`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(100).collect()
}

/// A period or grace time in seconds within [`MIN_SECONDS`, `MAX_SECONDS`].
pub fn check_seconds(v: i64) -> Result<i64, &'static str> {
    if v < MIN_SECONDS {
        Err("is too small: at least 60 seconds")
    } else if v > MAX_SECONDS {
        Err("is too large: at most 31536000 seconds (one year)")
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr as _;

    #[test]
    fn cron_fires_in_its_time_zone() {
        // 09:00 every day in Berlin; 2026-01-10 12:00 UTC → next is 2026-01-11 08:00 UTC.
        let s = CronSchedule::parse("0 9 * * *", "Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
        let at = Timestamp::from_str("2026-01-10T12:00:00Z").map(|t| t.as_millisecond());
        let next = s.next_after(at.unwrap_or_default());
        let want = Timestamp::from_str("2026-01-11T08:00:00Z").map(|t| t.as_millisecond());
        assert_eq!(next, want.ok());
    }

    #[test]
    fn bad_cron_and_zones_say_what_is_wrong() {
        let e = CronSchedule::parse("* * *", "UTC")
            .err()
            .unwrap_or_default();
        assert!(e.contains("five fields"), "{e}");
        let e = CronSchedule::parse("61 * * * *", "UTC")
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a valid cron"), "{e}");
        let e = CronSchedule::parse("* * * * * *", "UTC")
            .err()
            .unwrap_or_default();
        assert!(e.contains("five fields"), "{e}");
        let e = CronSchedule::parse("0 0 31 2 *", "UTC")
            .err()
            .unwrap_or_default();
        assert!(e.contains("never"), "{e}");
        let e = CronSchedule::parse("* * * * *", "Mars/Olympus")
            .err()
            .unwrap_or_default();
        assert!(e.contains("time zone"), "{e}");
        assert!(CronSchedule::parse("*/15 9-17 * * mon-fri", "America/New_York").is_ok());
    }

    #[test]
    fn keywords_classify_bodies() {
        let k = Keywords::parse("begin", "done, ok", "error,FAIL");
        assert_eq!(k.classify(b"backup done"), Action::Success);
        assert_eq!(k.classify(b"done with error"), Action::Fail);
        assert_eq!(k.classify(b"begin"), Action::Start);
        assert_eq!(k.classify(b"nothing"), Action::Ign);
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("  Nightly Backup (db)! "), "nightly-backup-db");
        assert!(check_slug("nightly-backup_2").is_ok());
        assert!(check_slug("Nightly").is_err());
        assert!(check_seconds(59).is_err());
        assert!(check_seconds(31_536_001).is_err());
    }
}
