//! Who may see a ticket: staff see the desk (security reports only with the security flag or as
//! admin); a customer sees the tickets they requested, and their colleagues' when their
//! organization shares tickets (never security reports). Anything else is "not found", so
//! ticket numbers reveal nothing.

use opsdesk_core::accounts::{Role, User};

/// The parts of a ticket that decide who sees it.
#[derive(Clone, Copy, Debug)]
pub struct Guarded<'a> {
    pub requester_id: &'a str,
    pub security: bool,
    /// The requester's organization, and whether it shares tickets among its members.
    pub organization_id: Option<&'a str>,
    pub shared: bool,
}

pub fn can_view(viewer: &User, t: Guarded<'_>) -> bool {
    match viewer.role {
        Role::Admin => true,
        Role::Agent => !t.security || viewer.security,
        Role::Customer => {
            viewer.id == t.requester_id
                || (t.shared
                    && !t.security
                    && t.organization_id.is_some()
                    && t.organization_id == viewer.organization_id.as_deref())
        }
    }
}

/// [`can_view`] for a whole ticket.
pub fn can_view_ticket(viewer: &User, t: &super::model::Ticket) -> bool {
    can_view(
        viewer,
        Guarded {
            requester_id: &t.requester.id,
            security: t.security,
            organization_id: t.organization_id.as_deref(),
            shared: t.organization_shared,
        },
    )
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
    fn colleagues_see_shared_tickets_but_never_security_reports() {
        let mut colleague = user("c2", Role::Customer, false);
        colleague.organization_id = Some("org".into());
        let mut stranger = user("c3", Role::Customer, false);
        stranger.organization_id = Some("other".into());
        let shared = Guarded {
            requester_id: "c1",
            security: false,
            organization_id: Some("org"),
            shared: true,
        };
        assert!(can_view(&colleague, shared));
        assert!(!can_view(&stranger, shared));
        assert!(!can_view(&user("c4", Role::Customer, false), shared));
        assert!(!can_view(
            &colleague,
            Guarded {
                shared: false,
                ..shared
            }
        ));
        assert!(!can_view(
            &colleague,
            Guarded {
                security: true,
                ..shared
            }
        ));
    }

    #[test]
    fn customers_see_only_their_own_and_security_stays_private() {
        let plain = Guarded {
            requester_id: "c1",
            security: false,
            organization_id: None,
            shared: false,
        };
        let secret = Guarded {
            requester_id: "c1",
            security: true,
            organization_id: None,
            shared: false,
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
