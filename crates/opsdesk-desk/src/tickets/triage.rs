//! Triage rules for new tickets: match the sender's domain, words in the subject or body, the
//! mailbox and the channel, then set the category, priority and assignee. Pure: no I/O.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// The priorities a rule can set.
pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
/// The channels a ticket can arrive on.
pub const CHANNELS: [&str; 3] = ["web", "email", "api"];
/// At most this many characters in a rule's name.
pub const MAX_NAME_CHARS: usize = 100;
/// At most this many characters in one word or phrase of a rule.
pub const MAX_WORD_CHARS: usize = 100;
/// At most this many words or phrases in a rule.
pub const MAX_WORDS: usize = 50;

/// A triage rule: when a new ticket meets the conditions, the actions apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The rule's id.
    pub id: String,
    /// The name shown to admins and in the ticket's timeline.
    pub name: String,
    /// Rules are tried in ascending position (then id).
    pub position: i64,
    /// Disabled rules are skipped.
    pub enabled: bool,
    /// What a ticket must meet.
    pub when: Conditions,
    /// What the rule sets.
    pub then: Actions,
}

/// What a ticket must meet: every non-empty list must match (any of its entries). A rule whose
/// lists are all empty matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conditions {
    /// Lower-case sender domains, e.g. "bigcorp.com"; subdomains ("eu.bigcorp.com") match too.
    pub sender_domains: Vec<String>,
    /// Words or phrases, any of which in the subject or body (case-insensitive, whole words).
    pub words: Vec<String>,
    /// Lower-case addresses the message was sent to, e.g. "billing@acme.test".
    pub mailboxes: Vec<String>,
    /// Channels: "web", "email" or "api".
    pub channels: Vec<String>,
}

impl Conditions {
    /// Whether no condition is set (such a rule matches nothing).
    pub fn is_empty(&self) -> bool {
        self.sender_domains.is_empty()
            && self.words.is_empty()
            && self.mailboxes.is_empty()
            && self.channels.is_empty()
    }
}

/// What a rule sets; unset (or blank) fields are left to later rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Actions {
    /// A category id.
    pub category: Option<String>,
    /// One of [`PRIORITIES`].
    pub priority: Option<String>,
    /// A user id.
    pub assignee: Option<String>,
}

impl Actions {
    /// Whether the rule sets nothing.
    pub fn is_empty(&self) -> bool {
        [&self.category, &self.priority, &self.assignee]
            .into_iter()
            .all(|field| non_blank(field.as_deref()).is_none())
    }
}

/// A new ticket's message, as triage sees it.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    /// The sender: "ann@bigcorp.com" or "Ann <ann@bigcorp.com>".
    pub sender: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// The body, as text.
    pub body: &'a str,
    /// The address the message was sent to, for mail.
    pub mailbox: Option<&'a str>,
    /// "web", "email" or "api".
    pub channel: &'a str,
}

/// What the rules set, each value with the name of the rule that set it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// (category id, rule name).
    pub category: Option<(String, String)>,
    /// (priority, rule name).
    pub priority: Option<(String, String)>,
    /// (user id, rule name).
    pub assignee: Option<(String, String)>,
}

impl Outcome {
    /// Whether every field is set (no later rule can change anything).
    pub fn is_complete(&self) -> bool {
        self.category.is_some() && self.priority.is_some() && self.assignee.is_some()
    }

    /// Lines for the ticket's timeline, e.g. "triage rule 'VIP customers' set priority high".
    /// Category and assignee are given by id.
    pub fn timeline(&self) -> Vec<String> {
        [
            ("category", &self.category),
            ("priority", &self.priority),
            ("assignee", &self.assignee),
        ]
        .into_iter()
        .filter_map(|(field, set)| {
            set.as_ref()
                .map(|(value, rule)| format!("triage rule '{rule}' set {field} {value}"))
        })
        .collect()
    }

    /// Takes the fields a matching rule sets that no earlier rule has set.
    fn take(&mut self, rule: &Rule) {
        let then = &rule.then;
        fill(
            &mut self.category,
            non_blank(then.category.as_deref()),
            &rule.name,
        );
        let priority = then.priority.as_deref().and_then(known_priority);
        fill(&mut self.priority, priority, &rule.name);
        fill(
            &mut self.assignee,
            non_blank(then.assignee.as_deref()),
            &rule.name,
        );
    }
}

fn fill(slot: &mut Option<(String, String)>, value: Option<&str>, rule: &str) {
    if slot.is_none() {
        *slot = value.map(|value| (value.to_string(), rule.to_string()));
    }
}

/// Applies the enabled rules in order: for each field, the first matching rule that sets it wins.
pub fn apply(rules: &[Rule], msg: &Incoming) -> Outcome {
    let facts = Facts::of(msg);
    let mut outcome = Outcome::default();
    for rule in in_order(rules) {
        if outcome.is_complete() {
            break;
        }
        if matches(&rule.when, &facts) {
            outcome.take(rule);
        }
    }
    outcome
}

/// The enabled rules by position, then id.
fn in_order(rules: &[Rule]) -> Vec<&Rule> {
    let mut ordered: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    ordered.sort_by(|a, b| a.position.cmp(&b.position).then_with(|| a.id.cmp(&b.id)));
    ordered
}

/// The message, normalized once for all rules.
struct Facts {
    /// The sender's domain, lower-cased.
    domain: Option<String>,
    /// The subject's words (see [`spaced_words`]).
    subject: String,
    /// The body's words (see [`spaced_words`]).
    body: String,
    /// The bare mailbox address, lower-cased.
    mailbox: Option<String>,
    channel: String,
}

impl Facts {
    fn of(msg: &Incoming) -> Self {
        Self {
            domain: domain_of(msg.sender),
            subject: spaced_words(msg.subject),
            body: spaced_words(msg.body),
            mailbox: msg.mailbox.map(|m| bare_address(m).to_lowercase()),
            channel: msg.channel.trim().to_lowercase(),
        }
    }

    /// Whether the subject or body contains the phrase as whole words.
    fn mentions(&self, phrase: &str) -> bool {
        let needle = spaced_words(phrase);
        if needle.trim().is_empty() {
            return false;
        }
        self.subject.contains(needle.as_str()) || self.body.contains(needle.as_str())
    }
}

fn matches(when: &Conditions, facts: &Facts) -> bool {
    let domain = facts.domain.as_deref();
    let mailbox = facts.mailbox.as_deref();
    !when.is_empty()
        && allows(&when.sender_domains, |d| {
            domain.is_some_and(|domain| domain_matches(domain, d))
        })
        && allows(&when.words, |w| facts.mentions(w))
        && allows(&when.mailboxes, |m| {
            mailbox.is_some_and(|mailbox| bare_address(m).to_lowercase() == mailbox)
        })
        && allows(&when.channels, |c| {
            c.trim().eq_ignore_ascii_case(&facts.channel)
        })
}

/// Whether a condition list allows the message: it is empty, or one of its entries accepts it.
fn allows(list: &[String], accepts: impl Fn(&str) -> bool) -> bool {
    list.is_empty() || list.iter().any(|item| accepts(item.as_str()))
}

/// Whether `domain` is `wanted` or one of its subdomains.
fn domain_matches(domain: &str, wanted: &str) -> bool {
    let wanted = wanted
        .trim()
        .trim_start_matches(['@', '.'])
        .trim_end_matches('.')
        .to_lowercase();
    !wanted.is_empty()
        && (domain == wanted
            || domain
                .strip_suffix(wanted.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

/// The bare address of "Name <addr>" or "addr".
fn bare_address(s: &str) -> &str {
    let s = s.trim();
    let inside = s.rfind('<').and_then(|open| {
        let rest = s.get(open + 1..)?;
        rest.get(..rest.find('>')?)
    });
    inside.unwrap_or(s).trim()
}

/// The lower-cased domain of a sender's address.
fn domain_of(sender: &str) -> Option<String> {
    let (_, domain) = bare_address(sender).rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// The lower-cased words (letters and digits) of a text, each surrounded by single spaces
/// (" late payment "), so a phrase matches on word boundaries by plain substring search.
fn spaced_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            in_word = true;
        } else if in_word {
            out.push(' ');
            in_word = false;
        }
    }
    if in_word {
        out.push(' ');
    }
    out
}

/// A trimmed value, or `None` when it is missing or blank.
fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The canonical spelling of a priority, if it is one of [`PRIORITIES`].
fn known_priority(priority: &str) -> Option<&'static str> {
    let priority = priority.trim();
    PRIORITIES
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(priority))
}

/// The problems of a rule as submitted, as (field, message); empty when the rule is valid.
pub fn validate(name: &str, when: &Conditions, then: &Actions) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    validate_name(name, &mut problems);
    validate_conditions(when, &mut problems);
    validate_actions(then, &mut problems);
    problems
}

type Problems = Vec<(&'static str, String)>;

fn validate_name(name: &str, problems: &mut Problems) {
    let name = name.trim();
    if name.is_empty() {
        problems.push(("name", "Give the rule a name.".to_string()));
    } else if name.chars().count() > MAX_NAME_CHARS {
        problems.push((
            "name",
            format!("The name can be at most {MAX_NAME_CHARS} characters."),
        ));
    }
}

fn validate_conditions(when: &Conditions, problems: &mut Problems) {
    if when.is_empty() {
        problems.push((
            "when",
            "Add at least one condition: a sender domain, a word, a mailbox or a channel."
                .to_string(),
        ));
    }
    for domain in &when.sender_domains {
        if let Some(message) = domain_problem(domain.trim()) {
            problems.push(("sender_domains", message));
        }
    }
    if when.words.len() > MAX_WORDS {
        problems.push((
            "words",
            format!(
                "A rule can have at most {MAX_WORDS} words or phrases (this one has {}).",
                when.words.len()
            ),
        ));
    }
    for word in &when.words {
        let word = word.trim();
        if word.is_empty() {
            problems.push(("words", "A word or phrase cannot be blank.".to_string()));
        } else if word.chars().count() > MAX_WORD_CHARS {
            problems.push((
                "words",
                format!(
                    "'{}' is longer than {MAX_WORD_CHARS} characters.",
                    excerpt(word)
                ),
            ));
        }
    }
    for mailbox in &when.mailboxes {
        if !is_address(mailbox.trim()) {
            problems.push((
                "mailboxes",
                format!(
                    "'{}' is not an email address like billing@acme.test.",
                    excerpt(mailbox)
                ),
            ));
        }
    }
    for channel in &when.channels {
        let channel = channel.trim();
        if !CHANNELS.iter().any(|c| c.eq_ignore_ascii_case(channel)) {
            problems.push((
                "channels",
                format!(
                    "'{}' is not a channel; use web, email or api.",
                    excerpt(channel)
                ),
            ));
        }
    }
}

fn validate_actions(then: &Actions, problems: &mut Problems) {
    if then.is_empty() {
        problems.push((
            "then",
            "Choose at least one action: a category, a priority or an assignee.".to_string(),
        ));
    }
    if let Some(priority) = non_blank(then.priority.as_deref())
        && known_priority(priority).is_none()
    {
        problems.push((
            "priority",
            "Priority must be low, normal, high or urgent.".to_string(),
        ));
    }
}

/// Why a text is not a domain like "bigcorp.com", if it is not.
fn domain_problem(domain: &str) -> Option<String> {
    if domain.contains('@') {
        return Some(format!(
            "'{}' is an address; enter just the domain, like bigcorp.com.",
            excerpt(domain)
        ));
    }
    let chars_ok = domain
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    let ok = chars_ok && labels_ok && domain.contains('.') && domain.len() <= 253;
    (!ok).then(|| format!("'{}' is not a domain like bigcorp.com.", excerpt(domain)))
}

/// Whether a text looks like an email address: exactly one '@', something on both sides, no
/// spaces.
fn is_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// At most 40 characters of a user's text, for a message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_string(),
    }
}

/// Comma- or newline-separated form input: trimmed, lower-cased, non-empty, without duplicates.
pub fn parse_lines(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    text.split([',', '\n', '\r'])
        .map(|item| item.trim().to_lowercase())
        .filter(|item| !item.is_empty() && seen.insert(item.clone()))
        .collect()
}

#[cfg(test)]
#[path = "triage_tests.rs"]
mod tests;
