//! Who may see a ticket: staff see the desk (security reports only with the security flag or as
//! admin); a customer sees only tickets they requested. Anything else is "not found", so ticket
//! numbers reveal nothing.

use opsdesk_core::accounts::{Role, User};

/// The parts of a ticket that decide who sees it.
#[derive(Clone, Copy, Debug)]
pub struct Guarded<'a> {
    pub requester_id: &'a str,
    pub security: bool,
}

pub fn can_view(viewer: &User, t: Guarded<'_>) -> bool {
    match viewer.role {
        Role::Admin => true,
        Role::Agent => !t.security || viewer.security,
        Role::Customer => viewer.id == t.requester_id,
    }
}

/// Whether the viewer may read security reports at all (list filters use this).
pub fn sees_security(viewer: &User) -> bool {
    viewer.role == Role::Admin || (viewer.role == Role::Agent && viewer.security)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, role: Role, security: bool) -> User {
        User {
            id: id.into(),
            email: format!("{id}@example.com"),
            name: id.into(),
            role,
            security,
            organization_id: None,
            organization: None,
            disabled: false,
            created_at: 0,
        }
    }

    #[test]
    fn customers_see_only_their_own_and_security_stays_private() {
        let plain = Guarded {
            requester_id: "c1",
            security: false,
        };
        let secret = Guarded {
            requester_id: "c1",
            security: true,
        };
        assert!(can_view(&user("c1", Role::Customer, false), plain));
        assert!(can_view(&user("c1", Role::Customer, false), secret));
        assert!(!can_view(&user("c2", Role::Customer, false), plain));
        assert!(can_view(&user("a", Role::Agent, false), plain));
        assert!(!can_view(&user("a", Role::Agent, false), secret));
        assert!(can_view(&user("a", Role::Agent, true), secret));
        assert!(can_view(&user("root", Role::Admin, false), secret));
        assert!(!sees_security(&user("a", Role::Agent, false)));
        assert!(!sees_security(&user("c", Role::Customer, true)));
    }
}
