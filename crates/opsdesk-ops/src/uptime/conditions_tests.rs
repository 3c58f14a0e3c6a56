//! The conditions, case by case, and never a panic on any input.

use super::*;
use proptest::prelude::*;

const BODY: &str = r#"{"status":"UP","n":1.5,"count":"10.0","ok":true,"v":null,"name":"héllo",
    "data":{"items":[{"name":"a"},{"name":"b","tags":[1,[2,3]]}]},"empty":{},"q":"a<b"}"#;

/// `+` must hold, `-` must fail, against `seen(200, 120, BODY)`.
const HOLDS: &str = r#"
    + [STATUS] == 200 | + [STATUS]==200 | - [STATUS] != 200 | + [STATUS] < 300 | + [STATUS]<300
    + [STATUS] <= 200 | - [STATUS] > 200 | + [STATUS] >= 200 | - [STATUS]>=201 | + [STATUS] == 200.0
    + [RESPONSE_TIME] < 300 | - [RESPONSE_TIME] > 120 | + [RESPONSE_TIME] >= 120 | - [RESPONSE_TIME] <= 119.5
    + [BODY].status == UP | - [BODY].status != UP | + [BODY].status != DOWN | - [BODY].status == up
    + [BODY].n == 1.5 | + [BODY].n == 1.50 | + [BODY].n > 1 | + [BODY].count == 10 | - [BODY].count != 10
    + [BODY].ok == true | + [BODY].v == null | + [BODY].name == héllo | + [BODY].q == a<b
    + [BODY].data.items[0].name == a | + [BODY].data.items[1].name == b | - [BODY].data.items[2].name == c
    + [BODY].data.items[1].tags[1][0] == 2 | - [BODY].data.items.name == a | - [BODY].status[0] == U
    + len([BODY].data.items) == 2 | + len([BODY].name) == 5 | + len([BODY].empty) == 0
    + len([BODY].data) == 1 | + len([BODY]) == 9 | + len([BODY].data.items) < [STATUS]
    + has([BODY].data.items) == true | + has([BODY].errors) == false | + has([BODY].v) == true
    - has([BODY].errors) == true | + has([BODY]) == true
    + [BODY] == pat(*"UP"*) | - [BODY] == pat(*DOWN*) | + [BODY] != pat(*DOWN*) | + [BODY].status == pat(U*)
    + [STATUS] == pat(2*) | - [STATUS] == pat(3*) | + [BODY] == pat({*}) | - [BODY] == pat(*x)
    + [STATUS] == any(200, 201) | - [STATUS] == any(201,204) | + [STATUS] != any(500, 502)
    + [BODY].status == any(DEGRADED, UP) | - [BODY].status != any(UP) | + [BODY].n == any(1.50)
    + [CONNECTED] == true | - [CONNECTED] == false | + [CONNECTED] != false
    + [STATUS] == [STATUS] | + [RESPONSE_TIME] < [STATUS] | + [BODY].status == [BODY].status
"#;

/// `condition => description` against `seen(503, 812, ...)`.
const FAILS: &str = r#"
    [STATUS] == 200 => [STATUS] (503) == 200
    [STATUS]==200 => [STATUS] (503) == 200
    [BODY].status == UP => [BODY].status (DOWN) == UP
    [BODY].missing == UP => [BODY].missing (missing) == UP
    [BODY].status.deeper != UP => [BODY].status.deeper (missing) != UP
    [RESPONSE_TIME] < 300 => [RESPONSE_TIME] (812) < 300
    [BODY].name < 5 => [BODY].name (x) < 5: both sides must be numbers
    [BODY].status >= UP => [BODY].status (DOWN) >= UP: both sides must be numbers
    len([BODY].status) > 10 => len([BODY].status) (4) > 10
    len([BODY].n) > 0 => len([BODY].n) (not an array, object or string) > 0
    has([BODY].nope) == true => has([BODY].nope) (false) == true
    [STATUS] == any(200, 201) => [STATUS] (503) == any(200, 201)
    [BODY].status == pat(U*) => [BODY].status (DOWN) == pat(U*)
    [RESPONSE_TIME] < [STATUS] => [RESPONSE_TIME] (812) < [STATUS] (503)
    [STATUS] == [BODY].nope => [STATUS] (503) == [BODY].nope (missing)
"#;

/// `condition => description` against `Observed::default()` (no connection).
const NOTHING: &str = r#"
    [STATUS] == 200 => [STATUS] (no response) == 200
    [STATUS] != 200 => [STATUS] (no response) != 200
    [CERTIFICATE_EXPIRATION] > 48h => [CERTIFICATE_EXPIRATION] (no certificate) > 48h
    [CONNECTED] == true => [CONNECTED] (false) == true
    [BODY].status == UP => [BODY].status (body is not JSON) == UP
    len([BODY]) > 0 => len([BODY]) (0) > 0
"#;

/// `condition => words the error must contain`.
const BAD: &str = r#"
    [STATUS] 200 => no operator
    [STATUS] = 200 => no operator
    [STATE] == 1 => unknown placeholder `[STATE]`
    [] == 1 => unknown placeholder
    [STATUS] == => nothing right of `==`
    == 200 => nothing left of `==`
    [CERTIFICATE_EXPIRATION] > soon => not a duration
    [CERTIFICATE_EXPIRATION] > 1h30 => not a duration
    [BODY].items[0 == 1 => unclosed `[`
    [BODY].a) == 1 => unmatched `)`
    [BODY]] == 1 => unmatched `]`
    len([BODY] > 1 => unclosed `(`
    len( > 1 => unclosed `(`
    len() > 1 => needs a placeholder
    len(5) > 1 => needs a placeholder
    has(len([BODY])) == true => needs a placeholder
    len([STATUS]) > 1 => only with [BODY]
    [BODY].items[x] == 1 => must be a whole number
    [BODY].items[-1] == 1 => must be a whole number
    [BODY].items[] == 1 => must be a whole number
    [BODY]..a == 1 => empty field name
    [BODY]. == 1 => empty field name
    [BODY]x == 1 => unexpected `x`
    [BODY].a(b) == 1 => is not valid
    [STATUS].x == 1 => only [BODY] takes
    [STATUS] == OK => not a number
    [RESPONSE_TIME] < fast => not a number
    [CONNECTED] == yes => true or false
    has([BODY].a) == 1 => true or false
    foo([BODY]) == 1 => unknown function `foo()`
    200 == [STATUS] => not a placeholder
    [STATUS] < pat(2*) => only with == and !=
    [STATUS] == any() => at least one
    [STATUS] == any(200, x) => not a number
    [STATUS] == pat(2*)x => unexpected text
    len([BODY])x > 1 => unexpected text
"#;

fn cond(s: &str) -> Condition {
    Condition::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}
fn seen(status: u16, ms: i64, body: &str) -> Observed {
    let body = body.into();
    Observed {
        status: Some(status),
        response_time_ms: ms,
        body,
        connected: true,
        ..Default::default()
    }
}
fn holds(c: &str, o: &Observed) -> bool {
    cond(c).check(o).is_ok()
}
fn why(c: &str, o: &Observed) -> String {
    cond(c).check(o).err().unwrap_or_else(|| panic!("{c} held"))
}
fn pairs(table: &str) -> impl Iterator<Item = (&str, &str)> {
    table.lines().filter_map(|l| l.trim().split_once(" => "))
}

#[test]
fn placeholders_functions_and_operators() {
    let o = seen(200, 120, BODY);
    let cases = HOLDS
        .split(['|', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty());
    for (sign, c) in cases.map(|c| c.split_at(1)) {
        let got = cond(c).check(&o);
        assert_eq!(got.is_ok(), sign == "+", "{c}: {got:?}");
    }
    assert_eq!(
        HOLDS.matches(" | ").count() + HOLDS.trim().lines().count(),
        64
    );
    assert!(holds("[BODY][0].x == 1", &seen(200, 1, r#"[{"x":1}]"#)));
    assert!(holds("len([BODY]) == 2", &seen(200, 1, "[1,2]")));
    assert!(holds("[BODY] == pat(a==b)", &seen(200, 1, "a==b")));
    assert!(holds("[BODY] == UP", &seen(200, 1, "UP")));
    assert!(matches!(cond("[BODY] == pat(a==b)").right, Rhs::Pattern(p) if p == "a==b"));
}

#[test]
fn failure_descriptions() {
    let o = seen(503, 812, r#"{"status":"DOWN","name":"x","n":1}"#);
    for (c, want) in pairs(FAILS) {
        assert_eq!(why(c, &o), want);
    }
    for (c, want) in pairs(NOTHING) {
        assert_eq!(why(c, &Observed::default()), want);
    }
    let html = seen(200, 1, "<html>ok</html>");
    assert_eq!(
        why("[BODY].ok == 1", &html),
        "[BODY].ok (body is not JSON) == 1"
    );
    assert!(holds("[BODY] == pat(*ok*)", &html) && holds("len([BODY]) == 15", &html));
    assert!(holds("has([BODY].status) == false", &html) && holds("has([BODY]) == false", &html));
    let long = why("[BODY] == y", &seen(200, 1, &"x".repeat(5000)));
    assert!(long.len() < 200 && long.contains('…'), "{long}");
}

#[test]
fn certificate_expiration() {
    let o = Observed {
        certificate_expires_in_ms: Some(10 * 86_400_000),
        ..Default::default()
    };
    let table = "> 48h +|> 30d -|> 7d +|< 1h30m -|> 90s +|>= 240h +|> 240h -|> 1.5h +|< 864000001 +|== 10d +";
    for case in table.split('|') {
        let c = format!("[CERTIFICATE_EXPIRATION] {}", &case[..case.len() - 2]);
        assert_eq!(holds(&c, &o), case.ends_with('+'), "{c}");
    }
    let table = "48h 172800000|30m 1800000|7d 604800000|1h30m 5400000|90s 90000|1.5h 5400000|\
        250ms 250|1500us 2|2µs 0|0 0|-1h -3600000|+1m 60000|soon|h|-|1x|1h30|1..5h|99999999999999999d|inf|NaN";
    for case in table.split('|') {
        let (s, ms) = case.split_once(' ').unwrap_or((case, ""));
        assert_eq!(duration_ms(s), ms.parse().ok(), "{s}");
    }
    assert_eq!(duration_ms(""), None);
}

#[test]
fn glob_and_numbers() {
    let table = "*ok*|all ok here|1  *ok*|OK|0  ok|ok|1  ok|ok!|0  *||1  |a|0  a*b*c|aXbYc|1  \
        a*b*c|aXbY|0  *é*|café!|1  **|x|1  a*|a|1  *a*b|aaab|1  *ab|aab|1  a*a|a|0";
    for case in table.split("  ") {
        let v: Vec<&str> = case.split('|').collect();
        assert_eq!(glob(v[0], v[1]), v[2] == "1", "{case}");
    }
    assert!(glob("", ""));
    // Would take practically forever with naive backtracking.
    assert!(!glob(&format!("{}b", "*a".repeat(30)), &"a".repeat(20_000)));
    assert_eq!(number("1e3").zip(number("-2")), Some((1000.0, -2.0)));
    assert!(number("inf").or(number("NaN")).or(number("")).is_none());
    assert!(compare("200", "200.0", "==") == Ok(true) && compare("UP", "up", "==") == Ok(false));
}

#[test]
fn parse_errors() {
    for (c, hint) in pairs(BAD) {
        let e = Condition::parse(c)
            .err()
            .unwrap_or_else(|| panic!("{c} parsed"));
        assert!(e.contains(hint) && e.starts_with("condition `"), "{c}: {e}");
    }
    let err = |c: &str| Condition::parse(c).err().unwrap_or_default();
    assert!(err("").contains("empty") && err("  \n ").contains("empty"));
    let long = err(&format!("[BODY] == {}", "x".repeat(1000)));
    assert!(
        long.contains("longer than 1000") && long.len() < 200,
        "{long}"
    );
    assert!(err(&format!("[BODY] == {}", "x".repeat(990))).is_empty());
}

#[test]
fn parse_all_and_text() {
    let list = ["[STATUS] == 200".to_string(), "  [BODY].a==b ".into()];
    let ok = parse_all(&list).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ok[1].text(), "[BODY].a==b");
    assert_eq!(ok[0], cond("[STATUS] == 200"));
    assert_ne!(ok[0], cond("[STATUS] == 201"));
    let errs = parse_all(&["[STATUS] == 200".into(), "nope".into(), "[X] == 1".into()]);
    let errs = errs.err().unwrap_or_default();
    assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
    assert!(errs[1].1.contains("[X]"));
}

fn check_all(text: &str, body: &str) {
    if let Ok(c) = Condition::parse(text) {
        let mut odd = seen(500, i64::MAX, body);
        odd.certificate_expires_in_ms = Some(i64::MIN);
        for o in [Observed::default(), seen(200, 5, BODY), odd] {
            let _ = c.check(&o);
        }
    }
}

#[test]
fn generated_combinations_never_panic() {
    let lefts = "[STATUS] [RESPONSE_TIME] [BODY] [BODY].data.items[1] [BODY][0] [CONNECTED] \
        [CERTIFICATE_EXPIRATION] len([BODY]) has([BODY].x) len([BODY].name) [X] len( ( ]";
    let rights = "200 1.5 48h true UP pat(*a*) any(1,UP) [STATUS] [BODY].x 1h30m ( ) pat( any()";
    for l in lefts.split(' ').chain([""]) {
        for op in OPS.iter().chain(&["=", "!", ""]) {
            for r in rights.split(' ').chain([""]) {
                check_all(&format!("{l}{op}{r}"), "[1,{\"a\":[]}]");
                check_all(&format!("{l} {op} {r}"), "x");
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in ".*", body in ".{0,40}") {
        check_all(&s, &body);
    }

    #[test]
    fn bracket_heavy_never_panics(
        s in r"[\[\]().=<>! a-zA-Z_0-9,*é\-]{0,40}",
        body in r#"[\[\]{}":,0-9a-z ]{0,30}"#,
    ) {
        for text in [s.clone(), format!("[BODY]{s}"), format!("len([BODY]{s}"), format!("[STATUS] {s}")] {
            check_all(&text, &body);
        }
    }
}

#[test]
fn captured_values_come_from_json_paths() {
    let body = r#"{"token":"abc","data":{"items":[{"id":7},{"id":8}]},"ok":true}"#;
    assert_eq!(body_value(body, "[BODY].token"), Ok("abc".into()));
    assert_eq!(body_value(body, "[BODY].data.items[1].id"), Ok("8".into()));
    assert_eq!(body_value(body, "[BODY].ok"), Ok("true".into()));
    assert!(body_value(body, "[BODY].nope").is_err_and(|e| e.contains("missing")));
    assert!(body_value("<html>", "[BODY].token").is_err_and(|e| e.contains("not JSON")));
    assert!(body_value(body, "[BODY].data.items[x]").is_err());
    assert!(check_body_path("token").is_err());
    assert_eq!(body_value("[1,2]", "[BODY][1]"), Ok("2".into()));
}
