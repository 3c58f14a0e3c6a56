//! Customer Communication Rules: flags blame, speculation, promised dates and internal-only words
//! in an agent's reply before it is sent to the customer. Pure: no I/O.
//!
//! Matching is case-insensitive and on word boundaries; the words of a phrase may be separated by
//! any run of whitespace. Lines starting with `>` are the customer's quoted words and are ignored.
//! The reply is lower-cased once, char by char, keeping each char's byte range in the original, so
//! findings carry exact byte offsets into the text as written whatever its script.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// At most this many characters in one phrase of an admin-edited list.
pub const MAX_PHRASE_CHARS: usize = 100;
/// At most this many phrases in one admin-edited list.
pub const MAX_LIST_ENTRIES: usize = 500;

/// Why a phrase in a reply was flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    /// Blaming the customer or another team.
    Blame,
    /// Guessing instead of stating what is known.
    Speculation,
    /// Promising a date or an outcome.
    PromisedDate,
    /// Words meant for staff only.
    InternalOnly,
}

impl Concern {
    /// The stable name of the concern, as stored and sent over the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Concern::Blame => "blame",
            Concern::Speculation => "speculation",
            Concern::PromisedDate => "promised_date",
            Concern::InternalOnly => "internal_only",
        }
    }

    /// One sentence telling an agent why the concern matters.
    pub fn explain(self) -> &'static str {
        match self {
            Concern::Blame => {
                "Blaming the customer or another team erodes trust; describe what happened instead."
            }
            Concern::Speculation => {
                "State what you know; say what you are still checking instead of guessing."
            }
            Concern::PromisedDate => "Don't promise dates or outcomes you cannot guarantee.",
            Concern::InternalOnly => {
                "This word is for internal use and should not reach customers."
            }
        }
    }
}

/// A phrase of a reply that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which rule the phrase breaks.
    pub concern: Concern,
    /// The text as found in the reply, in its original case and spacing.
    pub phrase: String,
    /// Byte offset of the phrase in the reply.
    pub start: usize,
}

/// The phrases each rule looks for (admin-editable; see [`parse_list`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lists {
    /// Phrases that blame the customer or another team.
    pub blame: Vec<String>,
    /// Phrases that guess.
    pub speculation: Vec<String>,
    /// Phrases that promise a date or an outcome (dates are also found by pattern).
    pub promises: Vec<String>,
    /// Words for staff only.
    pub internal: Vec<String>,
}

const DEFAULT_BLAME: &[&str] = &[
    "your fault",
    "you should have",
    "user error",
    "you failed to",
    "you didn't read",
    "as we already told you",
    "that's on you",
    "the other team broke",
];

const DEFAULT_SPECULATION: &[&str] = &[
    "probably",
    "might be",
    "maybe",
    "i think",
    "i guess",
    "should be fine",
    "not sure but",
    "possibly",
];

const DEFAULT_PROMISES: &[&str] = &[
    "by tomorrow",
    "by monday",
    "by tuesday",
    "by wednesday",
    "by thursday",
    "by friday",
    "by saturday",
    "by sunday",
    "by end of day",
    "by the end of the day",
    "by end of week",
    "by the end of the week",
    "by eod",
    "by next week",
    "within 24 hours",
    "within an hour",
    "guarantee",
    "guaranteed",
    "definitely fixed",
    "definitely fixed in",
    "will be fixed in",
    "fixed in the next release",
    "promise",
    "100%",
];

const DEFAULT_INTERNAL: &[&str] = &[
    "jira",
    "internal ticket",
    "postmortem draft",
    "sev1",
    "sev2",
    "root@",
    "staging db",
    "hotfix branch",
    "wontfix",
];

impl Default for Lists {
    fn default() -> Self {
        Self {
            blame: owned(DEFAULT_BLAME),
            speculation: owned(DEFAULT_SPECULATION),
            promises: owned(DEFAULT_PROMISES),
            internal: owned(DEFAULT_INTERNAL),
        }
    }
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// Checks a reply against the rules: the findings in order of their offset, at most one per offset
/// (the longest phrase found there).
pub fn check(text: &str, lists: &Lists) -> Vec<Finding> {
    let folded = Folded::new(text);
    let phrases = compile(lists);
    let mut hits = listed_phrases(&folded.chars, &phrases);
    hits.extend(promised_dates(&folded.chars));
    let mut findings: Vec<Finding> = hits
        .into_iter()
        .filter_map(|hit| folded.finding(text, hit))
        .collect();
    findings.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| b.phrase.len().cmp(&a.phrase.len()))
            .then_with(|| a.concern.cmp(&b.concern))
    });
    findings.dedup_by_key(|f| f.start);
    findings
}

/// Parses an admin-edited list, one phrase a line: trimmed, inner whitespace collapsed, empty lines
/// and case-insensitive duplicates dropped.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let mut phrases = Vec::new();
    let mut seen = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let phrase = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if phrase.is_empty() {
            continue;
        }
        let line_no = index + 1;
        let chars = phrase.chars().count();
        if chars > MAX_PHRASE_CHARS {
            return Err(format!(
                "Line {line_no}: a phrase can be at most {MAX_PHRASE_CHARS} characters (this one has {chars})."
            ));
        }
        if phrase.chars().any(char::is_control) {
            return Err(format!(
                "Line {line_no}: a phrase cannot contain control characters."
            ));
        }
        if seen.insert(phrase.to_lowercase()) {
            phrases.push(phrase);
        }
        if phrases.len() > MAX_LIST_ENTRIES {
            return Err(format!(
                "A list can have at most {MAX_LIST_ENTRIES} phrases; remove some and try again."
            ));
        }
    }
    Ok(phrases)
}

/// Stands in for every char of a quoted line: neither a word char nor whitespace, so nothing
/// matches inside or across a quoted line.
const QUOTED: char = '\u{0}';

/// A reply lower-cased char by char.
struct Folded {
    /// The folded chars.
    chars: Vec<char>,
    /// For each folded char, the byte range in the reply of the char it came from.
    spans: Vec<(usize, usize)>,
}

/// A match in folded text: chars `from..to`.
struct Hit {
    concern: Concern,
    from: usize,
    to: usize,
}

impl Folded {
    fn new(text: &str) -> Self {
        let mut chars = Vec::with_capacity(text.len());
        let mut spans = Vec::with_capacity(text.len());
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let quoted = is_quoted(line);
            for (i, c) in line.char_indices() {
                let span = (offset + i, offset + i + c.len_utf8());
                if quoted && c != '\n' {
                    chars.push(QUOTED);
                    spans.push(span);
                } else if c.is_ascii() {
                    chars.push(c.to_ascii_lowercase());
                    spans.push(span);
                } else {
                    for f in fold_char(c) {
                        chars.push(f);
                        spans.push(span);
                    }
                }
            }
            offset += line.len();
        }
        Self { chars, spans }
    }

    /// The finding for a hit, with the phrase as written in the reply.
    fn finding(&self, text: &str, hit: Hit) -> Option<Finding> {
        let start = self.spans.get(hit.from)?.0;
        let end = self.spans.get(hit.to.checked_sub(1)?)?.1;
        let phrase = text.get(start..end)?;
        Some(Finding {
            concern: hit.concern,
            phrase: phrase.to_string(),
            start,
        })
    }
}

/// Whether a line is quoted from the customer (starts with `>`, after any indentation).
fn is_quoted(line: &str) -> bool {
    line.trim_start_matches([' ', '\t']).starts_with('>')
}

/// Lower-cases a char; typographic apostrophes become `'`.
fn fold_char(c: char) -> impl Iterator<Item = char> {
    let c = match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        other => other,
    };
    c.to_lowercase()
}

/// Whether a char is part of a word: letters, digits, `_` and combining marks.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_combining(c)
}

/// The common blocks of combining marks (so "e\u{301}" stays one word).
fn is_combining(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// A listed phrase, folded and split into words.
struct Phrase {
    concern: Concern,
    words: Vec<Vec<char>>,
}

impl Phrase {
    /// The folded phrase, or `None` when it is blank.
    fn new(concern: Concern, text: &str) -> Option<Self> {
        let words: Vec<Vec<char>> = text
            .split_whitespace()
            .map(|w| w.chars().flat_map(fold_char).collect())
            .collect();
        (!words.is_empty()).then_some(Self { concern, words })
    }

    fn first_char(&self) -> Option<char> {
        self.words.first()?.first().copied()
    }

    fn last_char(&self) -> Option<char> {
        self.words.last()?.last().copied()
    }

    /// Where the phrase ends when it matches at `start`, on word boundaries.
    fn match_at(&self, chars: &[char], start: usize) -> Option<usize> {
        let before = start.checked_sub(1).and_then(|i| chars.get(i));
        if self.first_char().is_some_and(is_word) && before.is_some_and(|&c| is_word(c)) {
            return None;
        }
        let mut pos = start;
        for (k, word) in self.words.iter().enumerate() {
            if k > 0 {
                let gap = whitespace_run(chars, pos);
                if gap == 0 {
                    return None;
                }
                pos += gap;
            }
            let end = pos + word.len();
            if chars.get(pos..end)? != word.as_slice() {
                return None;
            }
            pos = end;
        }
        if self.last_char().is_some_and(is_word) && chars.get(pos).is_some_and(|&c| is_word(c)) {
            return None;
        }
        Some(pos)
    }
}

/// How many whitespace chars start at `pos`.
fn whitespace_run(chars: &[char], pos: usize) -> usize {
    chars.get(pos..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_whitespace()).count()
    })
}

/// The non-blank phrases of all lists.
fn compile(lists: &Lists) -> Vec<Phrase> {
    [
        (Concern::Blame, &lists.blame),
        (Concern::Speculation, &lists.speculation),
        (Concern::PromisedDate, &lists.promises),
        (Concern::InternalOnly, &lists.internal),
    ]
    .into_iter()
    .flat_map(|(concern, list)| list.iter().filter_map(move |p| Phrase::new(concern, p)))
    .collect()
}

/// The phrases by their first char: a table for ASCII, a map for the rest.
struct ByFirstChar<'p> {
    ascii: [Vec<&'p Phrase>; 128],
    other: HashMap<char, Vec<&'p Phrase>>,
}

impl<'p> ByFirstChar<'p> {
    fn new(phrases: &'p [Phrase]) -> Self {
        let mut index = Self {
            ascii: std::array::from_fn(|_| Vec::new()),
            other: HashMap::new(),
        };
        for phrase in phrases {
            let Some(c) = phrase.first_char() else {
                continue;
            };
            match index.ascii.get_mut(c as usize) {
                Some(slot) => slot.push(phrase),
                None => index.other.entry(c).or_default().push(phrase),
            }
        }
        index
    }

    fn get(&self, c: char) -> &[&'p Phrase] {
        let found = match self.ascii.get(c as usize) {
            Some(slot) => Some(slot),
            None => self.other.get(&c),
        };
        found.map_or(&[], Vec::as_slice)
    }
}

/// Every match of a listed phrase: one pass over the text, trying only the phrases that start with
/// the char at hand.
fn listed_phrases(chars: &[char], phrases: &[Phrase]) -> Vec<Hit> {
    let by_first = ByFirstChar::new(phrases);
    let mut hits = Vec::new();
    for (from, &c) in chars.iter().enumerate() {
        let candidates = by_first.get(c);
        for phrase in candidates {
            if let Some(to) = phrase.match_at(chars, from) {
                hits.push(Hit {
                    concern: phrase.concern,
                    from,
                    to,
                });
            }
        }
    }
    hits
}

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve",
];

const TIME_UNITS: &[&str] = &[
    "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
];

/// Words allowed between a count and its unit: "in 3 business days".
const UNIT_QUALIFIERS: &[&str] = &["business", "working"];

const ORDINAL_SUFFIXES: &[&str] = &["st", "nd", "rd", "th"];

/// A run of word chars in folded text: chars `start..end`.
#[derive(Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
}

fn tokens(chars: &[char]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in chars.iter().enumerate() {
        match (is_word(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Token { start: s, end: i });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Token {
            start: s,
            end: chars.len(),
        });
    }
    out
}

/// Dates promised in a pattern: "by Friday", "by the 3rd", "by March 5", "in 2 days",
/// "within 48 hours".
fn promised_dates(chars: &[char]) -> Vec<Hit> {
    let toks = tokens(chars);
    let mut hits = Vec::new();
    for i in 0..toks.len() {
        let Some(rest) = toks.get(i..) else { break };
        let Some(n) = date_pattern(chars, rest) else {
            continue;
        };
        if let (Some(first), Some(last)) = (rest.first(), rest.get(n - 1)) {
            hits.push(Hit {
                concern: Concern::PromisedDate,
                from: first.start,
                to: last.end,
            });
        }
    }
    hits
}

/// How many tokens at the start of `toks` form a promised date, if they do.
fn date_pattern(chars: &[char], toks: &[Token]) -> Option<usize> {
    let word = |k: usize| toks.get(k).and_then(|t| chars.get(t.start..t.end));
    let spaced = |n: usize| (1..n).all(|k| whitespace_between(chars, toks, k));
    let first = word(0)?;
    if is(first, "by") {
        let second = word(1)?;
        if one_of(second, WEEKDAYS) {
            return spaced(2).then_some(2);
        }
        let third = word(2)?;
        let by_the_ordinal = is(second, "the") && day_of_month(third).is_some_and(|(_, ord)| ord);
        let by_month_day = one_of(second, MONTHS) && day_of_month(third).is_some();
        return ((by_the_ordinal || by_month_day) && spaced(3)).then_some(3);
    }
    if is(first, "in") || is(first, "within") {
        let count = word(1)?;
        if small_number(count).is_none() && !one_of(count, NUMBER_WORDS) {
            return None;
        }
        let unit_at = if word(2).is_some_and(|w| one_of(w, UNIT_QUALIFIERS)) {
            3
        } else {
            2
        };
        let n = unit_at + 1;
        return (word(unit_at).is_some_and(|w| one_of(w, TIME_UNITS)) && spaced(n)).then_some(n);
    }
    None
}

/// Whether only whitespace (at least one char) separates token `k - 1` from token `k`.
fn whitespace_between(chars: &[char], toks: &[Token], k: usize) -> bool {
    let (Some(prev), Some(next)) = (k.checked_sub(1).and_then(|p| toks.get(p)), toks.get(k)) else {
        return false;
    };
    chars
        .get(prev.end..next.start)
        .is_some_and(|gap| !gap.is_empty() && gap.iter().all(|c| c.is_whitespace()))
}

fn is(word: &[char], s: &str) -> bool {
    word.iter().copied().eq(s.chars())
}

fn one_of(word: &[char], list: &[&str]) -> bool {
    list.iter().any(|s| is(word, s))
}

/// The value of a token of one to three ASCII digits.
fn small_number(word: &[char]) -> Option<u32> {
    if word.is_empty() || word.len() > 3 {
        return None;
    }
    word.iter()
        .try_fold(0u32, |acc, c| Some(acc * 10 + c.to_digit(10)?))
}

/// A day of the month, "5" or "5th": its number and whether it had an ordinal suffix.
fn day_of_month(word: &[char]) -> Option<(u32, bool)> {
    let digits = word.iter().take_while(|c| c.is_ascii_digit()).count();
    let (number, suffix) = word.split_at_checked(digits)?;
    let day = small_number(number).filter(|d| (1..=31).contains(d))?;
    if suffix.is_empty() {
        Some((day, false))
    } else {
        one_of(suffix, ORDINAL_SUFFIXES).then_some((day, true))
    }
}

#[cfg(test)]
#[path = "reply_rules_tests.rs"]
mod tests;
