//! Parameters from the configuration, value checks, and argument rendering that never splits or
//! merges an argument.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn config(name: &str, kind: &str) -> ParamConfig {
    ParamConfig {
        name: name.into(),
        kind: kind.into(),
        description: String::new(),
        values: Vec::new(),
        min: None,
        max: None,
        pattern: None,
        default: None,
    }
}

fn enum_param(name: &str, values: &[&str]) -> ParamConfig {
    ParamConfig {
        values: values.iter().map(|v| v.to_string()).collect(),
        ..config(name, "enum")
    }
}

fn int_param(name: &str, min: Option<i64>, max: Option<i64>) -> ParamConfig {
    ParamConfig {
        min,
        max,
        ..config(name, "integer")
    }
}

fn text_param(name: &str, pattern: &str) -> ParamConfig {
    ParamConfig {
        pattern: Some(pattern.into()),
        ..config(name, "string")
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn parse(cs: &[ParamConfig]) -> Vec<Param> {
    cs.iter().map(|c| param_from_config(c).unwrap()).collect()
}

fn problems(params: &[Param], given: &[(&str, &str)]) -> Vec<(String, String)> {
    check_values(params, &map(given)).unwrap_err()
}

fn one_problem(c: ParamConfig, value: &str) -> String {
    let name = c.name.clone();
    let found = problems(&parse(&[c]), &[(&name, value)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, name);
    found[0].1.clone()
}

#[test]
fn names_follow_the_rule() {
    for good in ["a", "app", "app_name2", &"a".repeat(40)] {
        assert!(
            param_from_config(&enum_param(good, &["x"])).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "",
        "App",
        "1app",
        "_app",
        "app-name",
        "app name",
        "äpp",
        &"a".repeat(41),
    ] {
        let e = param_from_config(&enum_param(bad, &["x"])).unwrap_err();
        assert!(e.contains("lower-case letter"), "{bad}: {e}");
    }
}

#[test]
fn types_are_enum_integer_or_string() {
    let e = param_from_config(&config("n", "number")).unwrap_err();
    assert!(e.contains("type `number` is unknown"), "{e}");
    assert!(param_from_config(&int_param("n", None, None)).is_ok());
}

#[test]
fn an_enum_needs_a_value() {
    let e = param_from_config(&enum_param("env", &[])).unwrap_err();
    assert!(e.contains("at least one value"), "{e}");
}

#[test]
fn fields_of_another_type_are_refused() {
    let c = ParamConfig {
        pattern: Some("x".into()),
        ..enum_param("env", &["a"])
    };
    assert!(
        param_from_config(&c)
            .unwrap_err()
            .contains("`pattern` applies only")
    );
    let c = ParamConfig {
        min: Some(1),
        ..text_param("s", "x")
    };
    assert!(
        param_from_config(&c)
            .unwrap_err()
            .contains("`min/max` applies only")
    );
}

#[test]
fn patterns_are_anchored_and_checked() {
    let p = param_from_config(&text_param("app", "[a-z]+|web-[0-9]")).unwrap();
    let ParamKind::Text { source, pattern } = &p.kind else {
        panic!("{p:?}");
    };
    assert_eq!(source, "^(?:[a-z]+|web-[0-9])$");
    assert!(pattern.is_match("web-1") && pattern.is_match("api"));
    assert!(!pattern.is_match("api; id") && !pattern.is_match("xweb-1x1"));

    let e = param_from_config(&text_param("app", "[a-z")).unwrap_err();
    assert!(
        e.contains("pattern `[a-z` is not a valid regular expression"),
        "{e}"
    );
    let e = param_from_config(&config("app", "string")).unwrap_err();
    assert!(e.contains("needs a `pattern`"), "{e}");
}

#[test]
fn min_must_not_be_above_max() {
    let e = param_from_config(&int_param("n", Some(5), Some(1))).unwrap_err();
    assert!(e.contains("min (5) is above max (1)"), "{e}");
    assert!(param_from_config(&int_param("n", Some(3), Some(3))).is_ok());
}

#[test]
fn defaults_must_be_valid() {
    let bad = [
        ParamConfig {
            default: Some("prod".into()),
            ..enum_param("env", &["dev", "staging"])
        },
        ParamConfig {
            default: Some("50".into()),
            ..int_param("lines", Some(1), Some(10))
        },
        ParamConfig {
            default: Some("Web".into()),
            ..text_param("app", "[a-z]+")
        },
    ];
    for c in bad {
        let e = param_from_config(&c).unwrap_err();
        assert!(e.contains("the default"), "{e}");
    }
    let c = ParamConfig {
        default: Some("+007".into()),
        ..int_param("lines", Some(1), Some(10))
    };
    assert_eq!(param_from_config(&c).unwrap().default.as_deref(), Some("7"));
}

#[test]
fn a_name_used_twice_is_refused() {
    let e = params_from_config(&[enum_param("a", &["x"]), int_param("a", None, None)]).unwrap_err();
    assert!(e.contains("`a` is defined twice"), "{e}");
}

#[test]
fn values_get_defaults_and_canonical_integers() {
    let params = parse(&[
        ParamConfig {
            default: Some("web".into()),
            ..enum_param("app", &["web", "worker"])
        },
        int_param("lines", Some(-10), Some(500)),
        ParamConfig {
            default: Some("15".into()),
            ..int_param("wait", None, None)
        },
    ]);
    let values = check_values(&params, &map(&[("lines", "+0050"), ("wait", "")])).unwrap();
    assert_eq!(
        values,
        map(&[("app", "web"), ("lines", "50"), ("wait", "15")])
    );
    let values = check_values(&params, &map(&[("lines", "-0"), ("app", "worker")])).unwrap();
    assert_eq!(
        values,
        map(&[("app", "worker"), ("lines", "0"), ("wait", "15")])
    );
}

#[test]
fn every_problem_is_reported() {
    let params = parse(&[enum_param("app", &["web"]), int_param("lines", None, None)]);
    let found = problems(&params, &[("ap", "web"), ("lines", "")]);
    assert_eq!(
        found,
        vec![
            (
                "ap".to_string(),
                "is not a parameter of this action".to_string()
            ),
            ("app".to_string(), "is required".to_string()),
            ("lines".to_string(), "is required".to_string()),
        ]
    );
}

#[test]
fn enum_values_must_be_listed() {
    let e = one_problem(enum_param("env", &["dev", "staging"]), "prod");
    assert_eq!(e, "must be one of dev, staging");
    assert_eq!(
        one_problem(enum_param("env", &["dev"]), "Dev"),
        "must be one of dev"
    );
}

#[test]
fn integers_must_be_whole_and_in_range() {
    for bad in ["1.5", "ten", " 5", "5 ", "0x10", "99999999999999999999"] {
        let e = one_problem(int_param("n", None, None), bad);
        assert_eq!(e, "must be a whole number", "{bad}");
    }
    assert_eq!(
        one_problem(int_param("n", Some(1), Some(9)), "10"),
        "must be between 1 and 9"
    );
    assert_eq!(
        one_problem(int_param("n", Some(1), None), "0"),
        "must be at least 1"
    );
    assert_eq!(
        one_problem(int_param("n", None, Some(9)), "10"),
        "must be at most 9"
    );
}

#[test]
fn text_must_match_the_whole_pattern() {
    let e = one_problem(text_param("app", "[a-z]+"), "web1");
    assert_eq!(e, "must match ^(?:[a-z]+)$");
}

#[test]
fn long_values_and_line_breaks_are_refused_whatever_the_type() {
    let any = text_param("s", "(?s).*");
    let long = "é".repeat(MAX_VALUE_CHARS + 1);
    assert_eq!(
        one_problem(any.clone(), &long),
        "must be at most 1000 characters"
    );
    let params = parse(std::slice::from_ref(&any));
    assert!(check_values(&params, &map(&[("s", &"é".repeat(MAX_VALUE_CHARS))])).is_ok());
    for bad in ["a\nb", "a\0b", "a\r"] {
        assert_eq!(
            one_problem(any.clone(), bad),
            "must not contain a NUL or a line break"
        );
    }
}

#[test]
fn shell_metacharacters_stay_one_literal_argument() {
    let params = parse(&[text_param("note", r"[^\x00-\x1f]*")]);
    let nasty = "x; rm -rf / $(id) `id` | cat <a >b && 'q' \"d\" {app}";
    let values = check_values(&params, &map(&[("note", nasty)])).unwrap();
    let args = render_args(&strings(&["--note={note}", "{note}"]), &values).unwrap();
    assert_eq!(args, vec![format!("--note={nasty}"), nasty.to_string()]);
}

#[test]
fn placeholders_are_replaced_inside_one_argument() {
    let values = map(&[("app", "web"), ("n", "5")]);
    let template = strings(&[
        "logs",
        "{app}",
        "--lines={n}",
        "{app}-{n}{n}",
        "{{app}}",
        "a}}b{{",
    ]);
    let args = render_args(&template, &values).unwrap();
    assert_eq!(
        args,
        strings(&["logs", "web", "--lines=5", "web-55", "{app}", "a}b{"])
    );
    assert_eq!(render_args(&[], &values).unwrap(), Vec::<String>::new());
    assert_eq!(
        render_args(&strings(&[""]), &values).unwrap(),
        strings(&[""])
    );
}

#[test]
fn unknown_placeholders_are_errors() {
    let e = render_args(&strings(&["{app}", "{nope}"]), &map(&[("app", "web")])).unwrap_err();
    assert!(e.contains("`{nope}`, which has no value"), "{e}");
}

#[test]
fn placeholders_are_listed_once_and_braces_checked() {
    let names = placeholders(&strings(&["{b}", "x{a}y{b}", "{{c}}"])).unwrap();
    assert_eq!(names, strings(&["b", "a"]));
    for bad in ["{app", "app}", "{}", "{App}", "{a b}", "{{app}", "x{y{z}}"] {
        assert!(placeholders(&strings(&[bad])).is_err(), "{bad}");
    }
}

/// A template argument as pieces, and what it must render to.
fn arg_strategy() -> impl Strategy<Value = (String, String)> {
    let piece = prop_oneof![
        "[^{}]{0,6}".prop_map(|t| (t.clone(), t)),
        Just(("{{".to_string(), "{".to_string())),
        Just(("}}".to_string(), "}".to_string())),
        Just(("{a}".to_string(), VALUE_A.to_string())),
        Just(("{b_2}".to_string(), VALUE_B.to_string())),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|ps| {
        ps.into_iter()
            .fold((String::new(), String::new()), |(t, r), (pt, pr)| {
                (t + &pt, r + &pr)
            })
    })
}

const VALUE_A: &str = "a b; $(c) {b_2}";
const VALUE_B: &str = "\"'` |&<>";

proptest! {
    #[test]
    fn render_args_never_splits_or_merges(args in prop::collection::vec(arg_strategy(), 0..8)) {
        let values = map(&[("a", VALUE_A), ("b_2", VALUE_B)]);
        let template: Vec<String> = args.iter().map(|(t, _)| t.clone()).collect();
        let expected: Vec<String> = args.iter().map(|(_, r)| r.clone()).collect();
        prop_assert_eq!(render_args(&template, &values).unwrap(), expected);
    }

    #[test]
    fn rendering_any_values_keeps_the_argument_count(
        values in prop::collection::vec(any::<String>(), 3),
        template in prop::collection::vec("[{}ab ]{0,8}", 0..6),
    ) {
        let values: BTreeMap<String, String> =
            ["a", "b", "ab"].iter().map(|n| n.to_string()).zip(values).collect();
        if let Ok(args) = render_args(&template, &values) {
            prop_assert_eq!(args.len(), template.len());
        }
    }
}
