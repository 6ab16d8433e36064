//! Releases: the append-only ledger's rules.

use std::fmt;

use crate::ParseError;

/// An app-scoped release version, `v1`, `v2`, … with no gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseVersion(i32);

impl ReleaseVersion {
    pub fn new(n: i32) -> Result<Self, ParseError> {
        if n >= 1 {
            Ok(Self(n))
        } else {
            Err(ParseError::new(
                "release",
                format!("Release version {n} is invalid: versions start at v1."),
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }

    /// The release before this one, if any (`rollback` with no argument targets it).
    pub fn previous(self) -> Option<Self> {
        (self.0 > 1).then(|| Self(self.0 - 1))
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// How a request names a release: by version (`3`, `v3`) or by id (uuid text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseRef {
    Version(ReleaseVersion),
    Id(String),
}

impl ReleaseRef {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let digits = raw.strip_prefix('v').unwrap_or(raw);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let n: i32 = digits.parse().map_err(|_| {
                ParseError::new("release", format!("Release version {raw:?} is too large."))
            })?;
            return Ok(Self::Version(ReleaseVersion::new(n)?));
        }
        if is_uuid(raw) {
            return Ok(Self::Id(raw.to_ascii_lowercase()));
        }
        Err(ParseError::new(
            "release",
            format!("{raw:?} names no release: use a version like v3 or a release id."),
        ))
    }
}

/// Canonical hyphenated uuid text; used to tell ids from names in paths.
pub fn is_uuid(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Description of a rollback release, in Heroku's words.
pub fn rollback_description(target: ReleaseVersion) -> String {
    format!("Rollback to {target}")
}

/// Description of a release made by a build of `commit`.
pub fn deploy_description(commit: &str) -> String {
    format!("Deploy {}", &commit[..commit.len().min(7)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_refs_accept_versions_and_ids() {
        let v = |n| ReleaseRef::Version(ReleaseVersion::new(n).unwrap());
        assert_eq!(ReleaseRef::parse("3").unwrap(), v(3));
        assert_eq!(ReleaseRef::parse("v12").unwrap(), v(12));
        let id = "0190A3C4-1234-7abc-8def-0123456789ab";
        assert_eq!(
            ReleaseRef::parse(id).unwrap(),
            ReleaseRef::Id(id.to_ascii_lowercase())
        );
        for bad in ["", "v", "v0", "0", "-1", "abc", "v1.2", "99999999999"] {
            assert!(ReleaseRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_use_herokus_wording() {
        assert_eq!(
            rollback_description(ReleaseVersion::new(3).unwrap()),
            "Rollback to v3"
        );
        assert_eq!(deploy_description("abc1234def"), "Deploy abc1234");
        assert_eq!(
            ReleaseVersion::new(4).unwrap().previous(),
            ReleaseVersion::new(3).ok()
        );
        assert_eq!(ReleaseVersion::new(1).unwrap().previous(), None);
    }
}
