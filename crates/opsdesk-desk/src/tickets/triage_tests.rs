//! Unit tests of `triage`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

fn rule(id: &str, position: i64, when: Conditions, then: Actions) -> Rule {
    Rule {
        id: id.to_string(),
        name: format!("rule {id}"),
        position,
        enabled: true,
        when,
        then,
    }
}

fn from(sender: &str) -> Incoming<'_> {
    Incoming {
        sender,
        subject: "Hello",
        body: "Something broke.",
        mailbox: Some("support@acme.test"),
        channel: "email",
    }
}

fn domains(list: &[&str]) -> Conditions {
    Conditions {
        sender_domains: strings(list),
        ..Conditions::default()
    }
}

fn words(list: &[&str]) -> Conditions {
    Conditions {
        words: strings(list),
        ..Conditions::default()
    }
}

fn priority(p: &str) -> Actions {
    Actions {
        priority: Some(p.to_string()),
        ..Actions::default()
    }
}

fn set(value: &str, rule: &str) -> Option<(String, String)> {
    Some((value.to_string(), rule.to_string()))
}

#[test]
fn sender_domains_match_with_their_subdomains_only() {
    let rules = [rule("a", 1, domains(&["bigcorp.com"]), priority("high"))];
    let high = set("high", "rule a");
    assert_eq!(apply(&rules, &from("ann@bigcorp.com")).priority, high);
    assert_eq!(
        apply(&rules, &from("Ann <ann@EU.BigCorp.com>")).priority,
        high
    );
    assert_eq!(apply(&rules, &from("bob@notbigcorp.com")).priority, None);
    assert_eq!(
        apply(&rules, &from("bob@bigcorp.com.evil.test")).priority,
        None
    );
    assert_eq!(apply(&rules, &from("bigcorp.com")).priority, None);
    assert_eq!(apply(&rules, &from("")).priority, None);
}

#[test]
fn words_match_whole_words_in_subject_or_body() {
    let rules = [rule(
        "a",
        1,
        words(&["refund", "late payment"]),
        priority("high"),
    )];
    let msg = |subject, body| Incoming {
        subject,
        body,
        ..from("ann@x.test")
    };
    let high = set("high", "rule a");
    assert_eq!(apply(&rules, &msg("Refund please!", "")).priority, high);
    assert_eq!(
        apply(&rules, &msg("Hi", "About my LATE\n  payment.")).priority,
        high
    );
    assert_eq!(apply(&rules, &msg("Refunds", "prefund")).priority, None);
    assert_eq!(apply(&rules, &msg("Hi", "late payments")).priority, None);
}

#[test]
fn mailbox_and_channel_constrain_the_match() {
    let when = Conditions {
        mailboxes: strings(&["billing@acme.test"]),
        channels: strings(&["email"]),
        ..Conditions::default()
    };
    let rules = [rule("a", 1, when, priority("low"))];
    let low = set("low", "rule a");
    let to = |mailbox, channel| Incoming {
        mailbox,
        channel,
        ..from("ann@x.test")
    };
    assert_eq!(
        apply(&rules, &to(Some("Billing <Billing@Acme.test>"), "email")).priority,
        low
    );
    assert_eq!(
        apply(&rules, &to(Some("support@acme.test"), "email")).priority,
        None
    );
    assert_eq!(apply(&rules, &to(None, "email")).priority, None);
    assert_eq!(
        apply(&rules, &to(Some("billing@acme.test"), "web")).priority,
        None
    );
}

#[test]
fn a_rule_without_conditions_matches_nothing() {
    let rules = [rule("a", 1, Conditions::default(), priority("urgent"))];
    assert_eq!(apply(&rules, &from("ann@bigcorp.com")), Outcome::default());
}

#[test]
fn the_first_rule_setting_a_field_wins_and_later_rules_fill_the_rest() {
    let later = Actions {
        priority: Some("low".to_string()),
        assignee: Some("u2".to_string()),
        ..Actions::default()
    };
    let rules = [
        rule("b", 2, domains(&["bigcorp.com"]), later),
        rule("a", 1, domains(&["bigcorp.com"]), priority("High")),
        rule(
            "c",
            2,
            domains(&["bigcorp.com"]),
            Actions {
                category: Some("cat-1".to_string()),
                assignee: Some("u3".to_string()),
                ..Actions::default()
            },
        ),
    ];
    let outcome = apply(&rules, &from("ann@bigcorp.com"));
    assert_eq!(outcome.priority, set("high", "rule a"));
    assert_eq!(outcome.assignee, set("u2", "rule b"));
    assert_eq!(outcome.category, set("cat-1", "rule c"));
    assert_eq!(
        outcome.timeline(),
        [
            "triage rule 'rule c' set category cat-1",
            "triage rule 'rule a' set priority high",
            "triage rule 'rule b' set assignee u2",
        ]
    );
}

#[test]
fn disabled_rules_and_blank_or_unknown_actions_are_skipped() {
    let mut off = rule("a", 1, domains(&["bigcorp.com"]), priority("urgent"));
    off.enabled = false;
    let rules = [
        off,
        rule("b", 2, domains(&["bigcorp.com"]), priority("asap")),
        rule(
            "c",
            3,
            domains(&["bigcorp.com"]),
            Actions {
                assignee: Some("  ".to_string()),
                ..priority("normal")
            },
        ),
    ];
    let outcome = apply(&rules, &from("ann@bigcorp.com"));
    assert_eq!(outcome.priority, set("normal", "rule c"));
    assert_eq!(outcome.assignee, None);
}

#[test]
fn validate_reports_each_field() {
    let fields = |name: &str, when: &Conditions, then: &Actions| -> Vec<&'static str> {
        validate(name, when, then)
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    };
    assert!(
        validate(
            "VIP customers",
            &domains(&["bigcorp.com"]),
            &priority("high")
        )
        .is_empty()
    );
    assert_eq!(
        fields(" ", &Conditions::default(), &Actions::default()),
        ["name", "when", "then"]
    );
    assert_eq!(
        fields(
            "n".repeat(101).as_str(),
            &domains(&["x.test"]),
            &priority("low")
        ),
        ["name"]
    );

    let long = "w".repeat(101);
    let bad = Conditions {
        sender_domains: strings(&[
            "bigcorp",
            "ann@bigcorp.com",
            "big corp.com",
            "-a.com",
            "ok.com",
        ]),
        words: strings(&[long.as_str(), "fine"]),
        mailboxes: strings(&["billing", "a@b@c", "billing@acme.test"]),
        channels: strings(&["fax", "Web"]),
    };
    let problems = validate("rule", &bad, &priority("asap"));
    let count = |field: &str| problems.iter().filter(|(f, _)| *f == field).count();
    assert_eq!(count("sender_domains"), 4);
    assert_eq!(count("words"), 1);
    assert_eq!(count("mailboxes"), 2);
    assert_eq!(count("channels"), 1);
    assert_eq!(count("priority"), 1);
    assert!(
        problems
            .iter()
            .any(|(_, m)| m.contains("enter just the domain"))
    );

    let many = Conditions {
        words: (0..51).map(|i| format!("w{i}")).collect(),
        ..Conditions::default()
    };
    let problems = validate("rule", &many, &priority("low"));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].1.contains("50"));
}

#[test]
fn form_lines_are_split_trimmed_lowercased_and_deduplicated() {
    assert_eq!(
        parse_lines("BigCorp.com, eu.bigcorp.com\n\nbigcorp.com ,  \r\nOther.test"),
        ["bigcorp.com", "eu.bigcorp.com", "other.test"]
    );
    assert!(parse_lines(" , \n").is_empty());
}
