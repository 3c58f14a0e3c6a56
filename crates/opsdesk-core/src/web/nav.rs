//! The main navigation as data: each capability adds its entries (with who may see them) when the
//! app is built, and the layout shows the ones the signed-in person may use.

use crate::accounts::Role;

/// Who sees a navigation entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Customers only (their own pages, such as the portal).
    Customers,
    Staff,
    Admins,
}

impl Audience {
    pub fn admits(self, role: Role) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Customers => role == Role::Customer,
            Audience::Staff => role.is_staff(),
            Audience::Admins => role == Role::Admin,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NavItem {
    /// Matches the `active` key a page passes to the shell.
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    pub audience: Audience,
}

/// The platform's own entries; later capabilities append theirs between Overview and the admin pages.
pub fn platform() -> Vec<NavItem> {
    vec![
        NavItem {
            key: "home",
            label: "Overview",
            href: "/",
            audience: Audience::Everyone,
        },
        NavItem {
            key: "users",
            label: "Users",
            href: "/admin/users",
            audience: Audience::Admins,
        },
        NavItem {
            key: "audit",
            label: "Audit log",
            href: "/admin/audit",
            audience: Audience::Admins,
        },
        NavItem {
            key: "jobs",
            label: "Jobs",
            href: "/admin/jobs",
            audience: Audience::Admins,
        },
        NavItem {
            key: "api",
            label: "API",
            href: "/api/docs/",
            audience: Audience::Everyone,
        },
    ]
}

/// An entry as the layout shows it.
#[derive(Clone, Debug)]
pub struct ShownNav {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

pub fn visible(items: &[NavItem], role: Role, active: &str) -> Vec<ShownNav> {
    items
        .iter()
        .filter(|i| i.audience.admits(role))
        .map(|i| ShownNav {
            label: i.label,
            href: i.href,
            current: i.key == active,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_sees_its_entries() {
        let items = platform();
        let labels = |role| {
            visible(&items, role, "home")
                .into_iter()
                .map(|n| n.label)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(Role::Admin),
            vec!["Overview", "Users", "Audit log", "Jobs", "API"]
        );
        assert_eq!(labels(Role::Agent), vec!["Overview", "API"]);
        assert_eq!(labels(Role::Customer), vec!["Overview", "API"]);
        assert!(
            visible(&items, Role::Admin, "audit")
                .iter()
                .any(|n| n.current && n.label == "Audit log")
        );
    }
}
