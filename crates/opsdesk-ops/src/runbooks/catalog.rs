//! The ops actions the configuration defines, checked once (pure): names, kinds, programs and
//! argument templates whose placeholders are all parameters, the role that may request each,
//! and — unless it only looks (`diagnostic`) — either an undo or an explicit `irreversible = true`.

use std::collections::BTreeMap;
use std::time::Duration;

use opsdesk_core::accounts::model::Role;
use opsdesk_core::config::{ActionConfig, OpsConfig};

use super::params::{self, Param};

/// What an action does, as the freeze and the approval rules see it.
pub const KINDS: [&str; 6] = [
    "diagnostic",
    "restart",
    "config_change",
    "deploy",
    "data_fix",
    "impersonation",
];

/// A program and its argument template.
#[derive(Clone, Debug)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
}

/// One checked action. `Debug` names its secrets' variables, never their values.
#[derive(Clone)]
pub struct Action {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub command: Command,
    pub params: Vec<Param>,
    /// The least role that may request it.
    pub role: Role,
    pub approval: bool,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
    /// (variable, value): never shown, redacted from output.
    pub secrets: Vec<(String, String)>,
    pub undo: Option<Command>,
    pub irreversible: bool,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("command", &self.command)
            .field("role", &self.role)
            .field("approval", &self.approval)
            .field("timeout", &self.timeout)
            .field("env", &self.env)
            .field(
                "secrets",
                &self.secrets.iter().map(|s| &s.0).collect::<Vec<_>>(),
            )
            .field("undo", &self.undo)
            .field("irreversible", &self.irreversible)
            .finish_non_exhaustive()
    }
}

impl Action {
    /// Whether someone of `role` may request it.
    pub fn allows(&self, role: Role) -> bool {
        match self.role {
            Role::Admin => role == Role::Admin,
            _ => role.is_staff(),
        }
    }
}

/// Every action, by name.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub actions: Vec<Action>,
}

impl Catalog {
    pub fn find(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Checks the configured actions; the error names the action and what is wrong.
    pub fn from_config(c: &OpsConfig) -> Result<Catalog, String> {
        if c.approval_minutes == 0 {
            return Err("[ops] approval_minutes must be at least 1".into());
        }
        let mut actions: Vec<Action> = Vec::new();
        for a in &c.actions {
            let checked = action(a).map_err(|e| format!("[[ops.actions]] \"{}\": {e}", a.name))?;
            if actions.iter().any(|x| x.name == checked.name) {
                return Err(format!(
                    "[[ops.actions]] \"{}\" is defined twice",
                    checked.name
                ));
            }
            actions.push(checked);
        }
        Ok(Catalog { actions })
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && n.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn valid_env(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn checked_command(program: &str, args: &[String], params: &[Param]) -> Result<Command, String> {
    if program.trim().is_empty() {
        return Err("needs a program".into());
    }
    for p in params::placeholders(args)? {
        if !params.iter().any(|x| x.name == p) {
            return Err(format!(
                "the arguments use {{{p}}}, which is not a parameter"
            ));
        }
    }
    Ok(Command {
        program: program.trim().to_string(),
        args: args.to_vec(),
    })
}

fn action(a: &ActionConfig) -> Result<Action, String> {
    if !valid_name(&a.name) {
        return Err("the name must be lowercase letters, digits, - and _ (at most 64)".into());
    }
    if !KINDS.contains(&a.kind.as_str()) {
        return Err(format!("kind must be one of {}", KINDS.join(", ")));
    }
    let params = params::params_from_config(&a.params)?;
    let impersonation = a.kind == "impersonation";
    let command = if impersonation {
        Command {
            program: String::new(),
            args: Vec::new(),
        }
    } else {
        checked_command(&a.program, &a.args, &params)?
    };
    let role = match a.role.trim() {
        "agent" | "" => Role::Agent,
        "admin" => Role::Admin,
        _ => return Err("role must be agent or admin".into()),
    };
    let undo = match &a.undo {
        Some(u) => {
            Some(checked_command(&u.program, &u.args, &params).map_err(|e| format!("undo {e}"))?)
        }
        None => None,
    };
    // A diagnostic changes nothing, so there is nothing to undo; everything else must say.
    if !impersonation && a.kind != "diagnostic" {
        match (&undo, a.irreversible) {
            (Some(_), true) => return Err("has an undo and says irreversible = true".into()),
            (None, false) => {
                return Err(
                    "needs an undo (`[ops.actions.undo]`) or `irreversible = true`, so nobody \
                     runs it thinking it can be taken back"
                        .into(),
                );
            }
            _ => {}
        }
    }
    if !(1..=86_400).contains(&a.timeout_seconds) {
        return Err("timeout_seconds must be 1 to 86400".into());
    }
    let mut seen = BTreeMap::new();
    for k in a.env.keys().chain(a.secrets.keys()) {
        if !valid_env(k) {
            return Err(format!(
                "\"{k}\" is not an environment variable name (A-Z, 0-9, _)"
            ));
        }
        if seen.insert(k.clone(), ()).is_some() {
            return Err(format!("\"{k}\" is both in env and secrets"));
        }
    }
    Ok(Action {
        name: a.name.clone(),
        description: a.description.trim().to_string(),
        kind: a.kind.clone(),
        command,
        params,
        role,
        approval: a.approval || impersonation,
        timeout: Duration::from_secs(a.timeout_seconds),
        env: a.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        secrets: a
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string()))
            .collect(),
        undo,
        irreversible: a.irreversible,
    })
}

#[cfg(test)]
mod toml_example {
    /// The example file as the configuration loader reads it.
    #[derive(serde::Deserialize)]
    pub struct Wrapper {
        pub ops: opsdesk_core::config::OpsConfig,
    }

    pub fn parse(raw: &str) -> Wrapper {
        config::Config::builder()
            .add_source(config::File::from_str(raw, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap_or_else(|e| panic!("the example does not parse: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsdesk_core::config::{ParamConfig, Secret, UndoConfig};

    fn restart() -> ActionConfig {
        ActionConfig {
            name: "restart-app".into(),
            description: "Restart the app".into(),
            kind: "restart".into(),
            program: "pm2".into(),
            args: vec!["restart".into(), "{app}".into(), "--update-env".into()],
            params: vec![ParamConfig {
                name: "app".into(),
                kind: "enum".into(),
                description: String::new(),
                values: vec!["web".into(), "worker".into()],
                min: None,
                max: None,
                pattern: None,
                default: None,
            }],
            role: "agent".into(),
            approval: true,
            timeout_seconds: 60,
            env: BTreeMap::new(),
            secrets: BTreeMap::from([("PM2_TOKEN".into(), Secret("s3cret".into()))]),
            undo: Some(UndoConfig {
                program: "pm2".into(),
                args: vec!["start".into(), "{app}".into()],
            }),
            irreversible: false,
        }
    }

    fn check(a: ActionConfig) -> Result<Catalog, String> {
        Catalog::from_config(&OpsConfig {
            actions: vec![a],
            ..Default::default()
        })
    }

    #[test]
    fn a_good_action_is_taken_as_it_is() {
        let c = check(restart()).unwrap_or_else(|e| panic!("{e}"));
        let a = c.find("restart-app").unwrap_or_else(|| panic!("missing"));
        let shown = format!("{a:?}");
        assert!(
            shown.contains("PM2_TOKEN") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert_eq!(a.command.args[1], "{app}");
        assert_eq!(a.secrets, vec![("PM2_TOKEN".into(), "s3cret".into())]);
        assert!(a.allows(Role::Agent) && !a.allows(Role::Customer));
    }

    #[test]
    fn every_mistake_is_named() {
        type Change = fn(&mut ActionConfig);
        let cases: Vec<(Change, &str)> = vec![
            (|a| a.name = "Restart App".into(), "the name"),
            (|a| a.kind = "reboot".into(), "kind must be"),
            (|a| a.program = " ".into(), "needs a program"),
            (|a| a.args.push("{nope}".into()), "{nope}"),
            (|a| a.role = "customer".into(), "role must be"),
            (|a| a.undo = None, "needs an undo"),
            (|a| a.irreversible = true, "irreversible = true"),
            (|a| a.timeout_seconds = 0, "timeout_seconds"),
            (
                |a| {
                    a.env.insert("lower".into(), "x".into());
                },
                "environment variable name",
            ),
            (
                |a| {
                    a.env.insert("PM2_TOKEN".into(), "x".into());
                },
                "both in env and secrets",
            ),
            (
                |a| {
                    if let Some(u) = a.undo.as_mut() {
                        u.args.push("{other}".into());
                    }
                },
                "undo the arguments use {other}",
            ),
        ];
        for (change, expected) in cases {
            let mut a = restart();
            change(&mut a);
            let e = check(a).err().unwrap_or_default();
            assert!(e.contains(expected), "{e} should say {expected}");
            assert!(e.contains("\""), "{e} names the action");
        }
    }

    #[test]
    fn names_are_unique_and_admin_actions_are_for_admins() {
        let e = Catalog::from_config(&OpsConfig {
            actions: vec![restart(), restart()],
            ..Default::default()
        })
        .err()
        .unwrap_or_default();
        assert!(e.contains("defined twice"), "{e}");
        let mut a = restart();
        a.role = "admin".into();
        let c = check(a).unwrap_or_else(|e| panic!("{e}"));
        let a = &c.actions[0];
        assert!(a.allows(Role::Admin) && !a.allows(Role::Agent));
    }

    #[test]
    fn the_shipped_examples_are_valid() {
        let raw = include_str!("../../../../contrib/ops-actions.example.toml");
        let parsed: toml_example::Wrapper = toml_example::parse(raw);
        let c = Catalog::from_config(&parsed.ops).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.actions.len(), 7);
        let unban = c.find("unban-ip").unwrap_or_else(|| panic!("unban-ip"));
        assert!(unban.undo.is_some());
        let ip = &unban.params[1];
        let ok = params::check_values(
            &unban.params,
            &BTreeMap::from([
                ("jail".into(), "sshd".into()),
                ("ip".into(), "203.0.113.9".into()),
            ]),
        );
        assert!(ok.is_ok(), "{ok:?} {ip:?}");
        let bad = params::check_values(
            &unban.params,
            &BTreeMap::from([
                ("jail".into(), "sshd".into()),
                ("ip".into(), "1.2.3.4; reboot".into()),
            ]),
        );
        assert!(bad.is_err());
        assert_eq!(c.find("dedupe-invoice").map(|a| a.secrets.len()), Some(1));
    }

    #[test]
    fn a_diagnostic_needs_no_undo() {
        let mut a = restart();
        a.kind = "diagnostic".into();
        a.undo = None;
        assert!(check(a).is_ok());
    }

    #[test]
    fn impersonation_needs_no_program_and_always_needs_approval() {
        let mut a = restart();
        a.kind = "impersonation".into();
        a.program = String::new();
        a.args.clear();
        a.params.clear();
        a.undo = None;
        a.approval = false;
        let c = check(a).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.actions[0].approval);
    }
}
