//! Thresholds on reported facts (pure): `php.memory_limit >= 256M`, `cpu.count > 1`,
//! `api.llm.reachable == true`, `app.version != 1.0.0`. Sizes read with units (`512K`, `256M`,
//! `2G`, `1Gi`, `128MB`, `-1` for unlimited stays a number); a fact is compared as a number when
//! both sides read as one, else as text.

use serde_json::Value;

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A parsed threshold: the fact it reads, the comparison and the value it must meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub key: String,
    pub op: Op,
    pub want: String,
}

/// Reads `512`, `512K`, `256M`, `2G`, `1T`, `1Gi`, `128MB`, `1.5G` as a number (bytes for sizes).
pub fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let digits = upper.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &upper[digits.len()..];
    let k: f64 = match unit {
        "K" | "KB" | "KI" | "KIB" => 1024.0,
        "M" | "MB" | "MI" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GI" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TI" | "TIB" => 1024.0_f64.powi(4),
        _ => return None,
    };
    digits.trim().parse::<f64>().ok().map(|n| n * k)
}

impl Rule {
    /// Parses `key op value`.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        if text.is_empty() || text.len() > 300 {
            return Err("must be a rule such as php.memory_limit >= 256M".into());
        }
        for (sym, op) in [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ] {
            if let Some((k, v)) = text.split_once(sym) {
                let key = k.trim();
                let want = v.trim();
                if key.is_empty()
                    || !key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    return Err(format!(
                        "\"{key}\" is not a fact name such as php.memory_limit"
                    ));
                }
                if want.is_empty() {
                    return Err(format!("\"{text}\" has nothing to compare with"));
                }
                if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && number(want).is_none() {
                    return Err(format!(
                        "\"{want}\" is not a number or size (512M, 2G) to compare with {sym}"
                    ));
                }
                return Ok(Rule {
                    key: key.to_string(),
                    op,
                    want: want.to_string(),
                });
            }
        }
        Err(format!(
            "\"{text}\" has no comparison (==, !=, <, <=, >, >=)"
        ))
    }

    pub fn text(&self) -> String {
        format!("{} {} {}", self.key, self.op.as_str(), self.want)
    }

    /// Whether a reported value meets the rule; `Err` says how it does not.
    pub fn check(&self, value: Option<&Value>) -> Result<(), String> {
        let Some(v) = value else {
            return Err(format!("{} is not reported", self.key));
        };
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let holds = match (number(&shown), number(&self.want)) {
            (Some(a), Some(b)) => match self.op {
                Op::Eq => (a - b).abs() < f64::EPSILON,
                Op::Ne => (a - b).abs() >= f64::EPSILON,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
            },
            _ => match self.op {
                Op::Eq => shown == self.want,
                Op::Ne => shown != self.want,
                _ => false,
            },
        };
        if holds {
            Ok(())
        } else {
            Err(format!(
                "{} is {shown}, wants {} {}",
                self.key,
                self.op.as_str(),
                self.want
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(s: &str) -> Rule {
        Rule::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn sizes_and_numbers_compare() {
        assert_eq!(number("256M"), Some(268_435_456.0));
        assert_eq!(number("1Gi"), Some(1_073_741_824.0));
        assert_eq!(number("128MB"), Some(134_217_728.0));
        assert_eq!(number("-1"), Some(-1.0));
        assert_eq!(number("lots"), None);
        let r = rule("php.memory_limit >= 256M");
        assert!(r.check(Some(&json!("512M"))).is_ok());
        let e = r.check(Some(&json!("128M"))).err().unwrap_or_default();
        assert_eq!(e, "php.memory_limit is 128M, wants >= 256M");
        assert!(
            rule("docker.memory_limit_bytes >= 1G")
                .check(Some(&json!(2_147_483_648_i64)))
                .is_ok()
        );
        assert!(rule("cpu.count > 1").check(Some(&json!(1))).is_err());
        assert!(
            rule("api.llm.reachable == true")
                .check(Some(&json!(true)))
                .is_ok()
        );
        assert!(
            rule("api.llm.reachable == true")
                .check(Some(&json!(false)))
                .is_err()
        );
        assert!(
            rule("app.version != 1.0.0")
                .check(Some(&json!("1.2.0")))
                .is_ok()
        );
        assert!(
            rule("cpu.count > 1")
                .check(None)
                .is_err_and(|e| e.contains("not reported"))
        );
    }

    #[test]
    fn bad_rules_say_why() {
        for (bad, word) in [
            ("", "rule such as"),
            ("memory 256M", "no comparison"),
            ("memory >= lots", "not a number"),
            ("bad key! >= 1", "fact name"),
            ("memory ==", "nothing to compare"),
        ] {
            let e = Rule::parse(bad).err().unwrap_or_default();
            assert!(e.contains(word), "{bad}: {e}");
        }
    }
}
