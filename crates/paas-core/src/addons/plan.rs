//! The add-on supervisor's decisions, pure: from the add-ons the store wants and the
//! containers the engine shows, what to create, start, connect, disconnect or remove.

use std::collections::BTreeSet;

use uuid::Uuid;

/// An add-on as the store wants it, for [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedAddon {
    pub id: Uuid,
    /// The apps whose networks it must be on (the attached apps), by name.
    pub apps: BTreeSet<String>,
    /// Being destroyed: its container and volume go, then its row.
    pub destroying: bool,
}

/// An add-on's container as the engine shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAddon {
    pub id: Uuid,
    pub running: bool,
    /// The app networks it is on, by app name.
    pub apps: BTreeSet<String>,
}

/// What the add-on supervisor does to bring the engine to the store's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddonAction {
    /// No container: make it (on its volume, which keeps any data it holds) and start it.
    Create { id: Uuid },
    /// A container that is not running (it crashed, or the engine restarted): start it.
    /// Never recreated, so nothing on its volume is ever initialised twice.
    Start { id: Uuid },
    /// Attached to an app whose network it is not on.
    Connect { id: Uuid, app: String },
    /// On the network of an app it is no longer attached to.
    Disconnect { id: Uuid, app: String },
    /// Being destroyed: remove its container and volume (if any), then forget it.
    Remove { id: Uuid },
}

/// Every decision of the add-on supervisor. Containers no wanted add-on names are left
/// alone (the store is the record of add-ons; a container without a row is not deleted
/// on a guess, since its volume may hold someone's data).
pub fn plan(wanted: &[WantedAddon], seen: &[SeenAddon]) -> Vec<AddonAction> {
    let mut actions = Vec::new();
    for want in wanted {
        let container = seen.iter().find(|s| s.id == want.id);
        if want.destroying {
            actions.push(AddonAction::Remove { id: want.id });
            continue;
        }
        let Some(container) = container else {
            actions.push(AddonAction::Create { id: want.id });
            continue;
        };
        for app in want.apps.difference(&container.apps) {
            actions.push(AddonAction::Connect {
                id: want.id,
                app: app.clone(),
            });
        }
        for app in container.apps.difference(&want.apps) {
            actions.push(AddonAction::Disconnect {
                id: want.id,
                app: app.clone(),
            });
        }
        if !container.running {
            actions.push(AddonAction::Start { id: want.id });
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_plan_creates_starts_and_follows_attachments() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let wanted = vec![
            WantedAddon {
                id: a,
                apps: apps(&["shop"]),
                destroying: false,
            },
            WantedAddon {
                id: b,
                apps: apps(&["shop", "admin"]),
                destroying: false,
            },
            WantedAddon {
                id: c,
                apps: apps(&[]),
                destroying: true,
            },
        ];
        let seen = vec![
            SeenAddon {
                id: b,
                running: false,
                apps: apps(&["shop", "old"]),
            },
            SeenAddon {
                id: c,
                running: true,
                apps: apps(&["x"]),
            },
            // No row: left alone.
            SeenAddon {
                id: Uuid::from_u128(9),
                running: false,
                apps: apps(&[]),
            },
        ];
        assert_eq!(
            plan(&wanted, &seen),
            vec![
                AddonAction::Create { id: a },
                AddonAction::Connect {
                    id: b,
                    app: "admin".into()
                },
                AddonAction::Disconnect {
                    id: b,
                    app: "old".into()
                },
                AddonAction::Start { id: b },
                AddonAction::Remove { id: c },
            ]
        );
    }

    #[test]
    fn a_running_addon_on_the_right_networks_needs_nothing() {
        let id = Uuid::from_u128(1);
        let wanted = [WantedAddon {
            id,
            apps: apps(&["shop"]),
            destroying: false,
        }];
        let seen = [SeenAddon {
            id,
            running: true,
            apps: apps(&["shop"]),
        }];
        assert!(plan(&wanted, &seen).is_empty());
    }
}
