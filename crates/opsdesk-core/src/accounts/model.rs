//! Account types parsed once at the edge: roles, email addresses, display names, passwords.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a user may do. Agents may also carry the `security` flag (see [`User::security`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
    Customer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Agent, Role::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
    }

    /// Admins and agents work the desk; customers only see their own things.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Agent)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A syntactically valid, lower-cased email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, &'static str> {
        let s = input.trim();
        if s.is_empty() {
            return Err("is required");
        }
        if s.len() > 254 {
            return Err("is longer than 254 characters");
        }
        if s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        }) {
            return Err("contains characters an email address cannot have");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("must look like name@example.com");
        };
        let domain_ok = !domain.is_empty()
            && domain
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
            && !domain.starts_with('-');
        if local.is_empty() || local.contains('@') || local.len() > 64 || !domain_ok {
            return Err("must look like name@example.com");
        }
        Ok(EmailAddress(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's or organization's display name: trimmed, 1–200 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<DisplayName, &'static str> {
        let s = input.trim();
        if s.is_empty() {
            return Err("is required");
        }
        if s.chars().count() > 200 {
            return Err("is longer than 200 characters");
        }
        if s.chars().any(char::is_control) {
            return Err("contains control characters");
        }
        Ok(DisplayName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the policy. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    /// Hashing cost grows with length; a cap keeps a login from being a CPU weapon.
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(input: &str) -> Result<NewPassword, &'static str> {
        if input.chars().count() < Self::MIN_CHARS {
            return Err("must be at least 10 characters");
        }
        if input.len() > Self::MAX_BYTES {
            return Err("must be at most 1024 bytes");
        }
        if input.trim().is_empty() {
            return Err("cannot be only spaces");
        }
        Ok(NewPassword(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// A stored user, without the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// May read private security reports (agents and admins only).
    pub security: bool,
    pub organization_id: Option<String>,
    pub organization: Option<String>,
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An organization customers belong to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            EmailAddress::parse("  Ada@Example.COM ").map(|e| e.0),
            Ok("ada@example.com".into())
        );
        assert!(EmailAddress::parse("ops@localhost").is_ok());
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "", "a", "a@", "@b.c", "a b@c.d", "a@b..c", "a@-b.c", "x\"@y.z", "<a@b.c>", "a@b\n.c",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(EmailAddress::parse(&format!("{}@b.c", "a".repeat(300))).is_err());
    }

    #[test]
    fn passwords_follow_the_policy_and_hide_in_debug() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse(&"x".repeat(2000)).is_err());
        assert!(NewPassword::parse("          ").is_err());
        let p = NewPassword::parse("correct horse battery").map(|p| format!("{p:?}"));
        assert_eq!(p, Ok("NewPassword(***)".into()));
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("Admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn names_refuse_control_characters_and_overlong_text() {
        assert!(DisplayName::parse("Ada\u{7}").is_err());
        assert!(DisplayName::parse(&"n".repeat(201)).is_err());
        assert_eq!(DisplayName::parse(" Ada ").map(|n| n.0), Ok("Ada".into()));
    }
}
