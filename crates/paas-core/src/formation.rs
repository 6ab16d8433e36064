//! The process formation: how many dynos of each process type should run.

use std::collections::BTreeMap;

use crate::{ParseError, ProcessType, Procfile};

/// Dynos of one process type: 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 100;

    pub fn new(n: i64) -> Result<Self, ParseError> {
        if (0..=i64::from(Self::MAX)).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(ParseError::new(
                "quantity",
                format!(
                    "Quantity {n} is out of range: a process type runs 0 to {} dynos.",
                    Self::MAX
                ),
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One row of the formation as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormationEntry {
    pub process_type: ProcessType,
    pub quantity: Quantity,
    pub command: String,
}

/// A scale request for one type: absolute (`web=3`) or relative (`web+2`, `web-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleChange {
    To(Quantity),
    By(i64),
}

impl ScaleChange {
    /// Parses the CLI's `type=N`, `type+N`, `type-N` arguments.
    pub fn parse_arg(arg: &str) -> Result<(ProcessType, ScaleChange), ParseError> {
        let bad = || {
            ParseError::new(
                "formation",
                format!("{arg:?} is not a scale argument: use type=N, type+N or type-N (web=2)."),
            )
        };
        let pos = arg.find(['=', '+', '-']).ok_or_else(bad)?;
        // A process type may contain '-', so '=' wins when present.
        let pos = arg.find('=').unwrap_or(pos);
        let (kind, rest) = arg.split_at(pos);
        let process_type = ProcessType::parse(kind).map_err(|_| bad())?;
        let (op, number) = rest.split_at(1);
        let n: i64 = number.parse().map_err(|_| bad())?;
        let change = match op {
            "=" => ScaleChange::To(Quantity::new(n)?),
            "+" => ScaleChange::By(n),
            _ => ScaleChange::By(-n),
        };
        Ok((process_type, change))
    }

    pub fn resolve(&self, current: Quantity) -> Result<Quantity, ParseError> {
        match self {
            ScaleChange::To(q) => Ok(*q),
            ScaleChange::By(delta) => Quantity::new(i64::from(current.get()) + delta),
        }
    }
}

/// The formation after a release whose code declares `processes`: types the code no longer
/// has go away, existing ones keep their quantity and take the new command, and new ones
/// start at one dyno for `web` and zero for anything else (Heroku's rule).
pub fn formation_for_release(
    current: &[FormationEntry],
    processes: &Procfile,
) -> Vec<FormationEntry> {
    let existing: BTreeMap<&ProcessType, Quantity> = current
        .iter()
        .map(|e| (&e.process_type, e.quantity))
        .collect();
    processes
        .processes()
        .map(|(kind, command)| FormationEntry {
            process_type: kind.clone(),
            quantity: existing.get(kind).copied().unwrap_or(if kind.is_web() {
                Quantity(1)
            } else {
                Quantity(0)
            }),
            command: command.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(s: &str) -> ProcessType {
        ProcessType::parse(s).unwrap()
    }

    #[test]
    fn quantity_is_bounded() {
        assert!(Quantity::new(0).is_ok());
        assert!(Quantity::new(100).is_ok());
        assert!(Quantity::new(101).is_err());
        assert!(Quantity::new(-1).is_err());
    }

    #[test]
    fn scale_arguments_parse_absolute_and_relative() {
        assert_eq!(
            ScaleChange::parse_arg("web=3").unwrap(),
            (pt("web"), ScaleChange::To(Quantity(3)))
        );
        assert_eq!(
            ScaleChange::parse_arg("worker+2").unwrap(),
            (pt("worker"), ScaleChange::By(2))
        );
        assert_eq!(
            ScaleChange::parse_arg("worker-1").unwrap(),
            (pt("worker"), ScaleChange::By(-1))
        );
        assert_eq!(
            ScaleChange::parse_arg("my-worker=1").unwrap(),
            (pt("my-worker"), ScaleChange::To(Quantity(1)))
        );
        for bad in ["web", "web=", "=3", "web=x", "web=101", "web=-1"] {
            assert!(ScaleChange::parse_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_scale_cannot_leave_the_range() {
        assert_eq!(
            ScaleChange::By(2).resolve(Quantity(1)).unwrap(),
            Quantity(3)
        );
        assert!(ScaleChange::By(-2).resolve(Quantity(1)).is_err());
        assert!(ScaleChange::By(100).resolve(Quantity(1)).is_err());
    }

    #[test]
    fn a_release_keeps_quantities_and_starts_new_types_at_web_one_others_zero() {
        let current = vec![
            FormationEntry {
                process_type: pt("web"),
                quantity: Quantity(3),
                command: "old".into(),
            },
            FormationEntry {
                process_type: pt("gone"),
                quantity: Quantity(2),
                command: "x".into(),
            },
        ];
        let procfile = Procfile::parse("web: new\nworker: w\nrelease: migrate\n").unwrap();
        let next = formation_for_release(&current, &procfile);
        assert_eq!(
            next,
            vec![
                FormationEntry {
                    process_type: pt("web"),
                    quantity: Quantity(3),
                    command: "new".into()
                },
                FormationEntry {
                    process_type: pt("worker"),
                    quantity: Quantity(0),
                    command: "w".into()
                },
            ]
        );
        let first = formation_for_release(&[], &Procfile::parse("web: a\n").unwrap());
        assert_eq!(first[0].quantity, Quantity(1));
    }
}
