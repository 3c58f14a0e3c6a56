//! Unit tests of `reply_rules`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn found(text: &str) -> Vec<(Concern, String)> {
    check(text, &Lists::default())
        .into_iter()
        .map(|f| (f.concern, f.phrase))
        .collect()
}

fn one(concern: Concern, phrase: &str) -> Vec<(Concern, String)> {
    vec![(concern, phrase.to_string())]
}

fn assert_offsets(text: &str, findings: &[Finding]) {
    for f in findings {
        assert_eq!(&text[f.start..f.start + f.phrase.len()], f.phrase);
    }
}

#[test]
fn a_clean_reply_has_no_findings() {
    let text = "Hi Sam,\n\nThanks for the details. We have reproduced the problem and are \
                working on a fix. I will update you as soon as I know more.\n\nBest regards,\nAlex";
    assert!(found(text).is_empty());
    assert!(found("").is_empty());
    assert!(found("\n>\n \n").is_empty());
}

#[test]
fn each_concern_is_detected() {
    assert_eq!(
        found("Sorry, but this was user error."),
        one(Concern::Blame, "user error")
    );
    assert_eq!(
        found("It is Probably the cache."),
        one(Concern::Speculation, "Probably")
    );
    assert_eq!(
        found("We will have it fixed by tomorrow."),
        one(Concern::PromisedDate, "by tomorrow")
    );
    assert_eq!(
        found("I linked the JIRA issue."),
        one(Concern::InternalOnly, "JIRA")
    );
    assert_eq!(
        found("That’s on you, I'm afraid."),
        one(Concern::Blame, "That’s on you")
    );
    assert_eq!(
        found("Log in as root@db1 to see it."),
        one(Concern::InternalOnly, "root@")
    );
}

#[test]
fn concerns_have_names_and_explanations() {
    assert_eq!(Concern::PromisedDate.as_str(), "promised_date");
    assert_eq!(Concern::InternalOnly.as_str(), "internal_only");
    assert!(Concern::Blame.explain().contains("trust"));
}

#[test]
fn phrases_match_on_word_boundaries_only() {
    assert!(found("I love Maybelline and the compromise we reached.").is_empty());
    assert_eq!(found("We promise."), one(Concern::PromisedDate, "promise"));
    assert_eq!(
        found("I promise, it works"),
        one(Concern::PromisedDate, "promise")
    );
    assert!(found("sev10 and jiras").is_empty());
    assert!(found("maybe_not").is_empty());
}

#[test]
fn multi_word_phrases_match_across_any_whitespace() {
    assert_eq!(
        found("That might\n   be the reason."),
        one(Concern::Speculation, "might\n   be")
    );
    assert_eq!(
        found("you should\r\n\thave restarted"),
        one(Concern::Blame, "you should\r\n\thave")
    );
    assert!(found("might-be").is_empty());
}

#[test]
fn quoted_lines_are_the_customers_words() {
    let text = "> This is probably your fault\n> fix it by Friday please\n  > maybe\n\
                Thanks, we are looking into it.";
    assert!(found(text).is_empty());

    let text = "> maybe\nWe think it is probably ok";
    let findings = check(text, &Lists::default());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].start, text.find("probably").unwrap());

    assert!(found("it might\n> quoted\nbe").is_empty());
}

#[test]
fn offsets_point_at_the_phrase_after_non_ascii_text() {
    let text = "Grüße, İstanbul — we will fix it by Friday";
    let findings = check(text, &Lists::default());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].phrase, "by Friday");
    assert_eq!(findings[0].start, text.find("by Friday").unwrap());
    assert_offsets(text, &findings);

    // 'Ⱥ' is two bytes, its lower case three; 'İ' lower-cases to two chars.
    let text = "ȺȺȺ İİ 🎉 漢字 cafe\u{301} — MAYBE, it is Possibly fine";
    let findings = check(text, &Lists::default());
    let phrases: Vec<&str> = findings.iter().map(|f| f.phrase.as_str()).collect();
    assert_eq!(phrases, ["MAYBE", "Possibly"]);
    assert_eq!(findings[0].start, text.find("MAYBE").unwrap());
    assert_offsets(text, &findings);
}

#[test]
fn any_slice_of_unusual_text_is_checked_without_panicking() {
    let text =
        "İ> ȺmaybeȺ 🎉by 漢字 Friday e\u{301}\u{301} by the 3rd\n> in 2 days\r\n\u{0}probably";
    for (i, _) in text.char_indices() {
        assert_offsets(&text[..i], &check(&text[..i], &Lists::default()));
        assert_offsets(&text[i..], &check(&text[i..], &Lists::default()));
    }
}

#[test]
fn promised_dates_are_found_by_pattern() {
    assert_eq!(
        found("We'll ship it by the 3rd."),
        one(Concern::PromisedDate, "by the 3rd")
    );
    assert_eq!(
        found("Expect it in 2 days."),
        one(Concern::PromisedDate, "in 2 days")
    );
    assert_eq!(
        found("Expect it within 48 hours."),
        one(Concern::PromisedDate, "within 48 hours")
    );
    assert_eq!(
        found("Expect it in three business days."),
        one(Concern::PromisedDate, "in three business days")
    );
    assert_eq!(
        found("It will be live by\nSaturday."),
        one(Concern::PromisedDate, "by\nSaturday")
    );
    assert_eq!(
        found("Done by March 5, promise."),
        vec![
            (Concern::PromisedDate, "by March 5".to_string()),
            (Concern::PromisedDate, "promise".to_string()),
        ]
    );
    assert_eq!(
        found("by Dec 24th"),
        one(Concern::PromisedDate, "by Dec 24th")
    );
    assert!(found("by the way, in 2 ways, by Marchand 5, by March 45, in 2-days").is_empty());
}

#[test]
fn one_finding_per_offset_the_longest_in_order() {
    let findings = check(
        "It is definitely fixed in the next release, by Monday.",
        &Lists::default(),
    );
    let phrases: Vec<&str> = findings.iter().map(|f| f.phrase.as_str()).collect();
    assert_eq!(
        phrases,
        [
            "definitely fixed in",
            "fixed in the next release",
            "by Monday"
        ]
    );
    assert!(findings.windows(2).all(|w| w[0].start < w[1].start));
}

#[test]
fn custom_lists_are_used_and_blank_phrases_ignored() {
    let lists = Lists {
        blame: vec!["  ".into(), String::new()],
        speculation: vec![],
        promises: vec![],
        internal: vec!["Customer  Tier".into()],
    };
    let findings = check("customer tier: gold, probably", &lists);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].concern, Concern::InternalOnly);
    assert_eq!(findings[0].phrase, "customer tier");
}

#[test]
fn a_long_reply_is_checked() {
    let chunk = "Grüße 🎉 漢字 e\u{301}; we are checking, maybe by Friday.\n> probably\n";
    let text = chunk.repeat(200_000 / chunk.chars().count() + 1);
    assert!(text.chars().count() >= 200_000);
    let findings = check(&text, &Lists::default());
    assert!(findings.len() > 1000);
    assert!(
        findings
            .iter()
            .all(|f| f.concern != Concern::Speculation || f.phrase == "maybe")
    );
    assert_offsets(&text, &findings);
}

#[test]
fn lists_are_parsed_one_phrase_a_line() {
    assert_eq!(
        parse_list("maybe\n  Maybe \n\n i   think \r\nprobably\n").unwrap(),
        ["maybe", "i think", "probably"]
    );
    assert_eq!(parse_list("").unwrap(), Vec::<String>::new());

    let long = "x".repeat(101);
    let err = parse_list(&format!("ok\n{long}")).unwrap_err();
    assert!(err.contains("Line 2") && err.contains("100"), "{err}");
    assert!(parse_list(&"é".repeat(100)).is_ok());

    assert!(parse_list("bell\u{7}").unwrap_err().contains("control"));

    let many: Vec<String> = (0..501).map(|i| format!("phrase {i}")).collect();
    let err = parse_list(&many.join("\n")).unwrap_err();
    assert!(err.contains("500"), "{err}");
    assert_eq!(parse_list(&many[..500].join("\n")).unwrap().len(), 500);

    let repeated = "same\n".repeat(1000);
    assert_eq!(parse_list(&repeated).unwrap(), ["same"]);
}
