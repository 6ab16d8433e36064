//! Add-on names (`postgresql-curved-12345`, a DNS label: the host of its URL),
//! attachment names (`DATABASE`, the prefix of the config var it sets), and the
//! descriptions of the releases attaching and detaching make.

use std::fmt;

use crate::names::{is_label_byte, is_spelled};
use crate::{ConfigKey, ParseError};

use super::Service;

/// An add-on's name, unique across the installation and a DNS label (it is the host of
/// its URL): `postgresql-curved-12345`, or one the user gives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddonName(String);

impl AddonName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = is_spelled(raw, 3..=63, |b| b.is_ascii_lowercase(), is_label_byte)
            && !raw.ends_with('-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                "name",
                format!(
                    "Add-on name {raw:?} is invalid: 3 to 63 lowercase letters, digits and dashes, starting with a letter."
                ),
            ))
        }
    }

    /// `<service>-<word>-<5 digits>` from caller-supplied entropy.
    pub fn generate(service: Service, entropy: u64) -> Self {
        const WORDS: &[&str] = &[
            "curved",
            "angular",
            "rugged",
            "silent",
            "cubic",
            "flat",
            "shallow",
            "deep",
            "solid",
            "fluffy",
            "round",
            "clear",
            "spherical",
            "sinuous",
            "tapered",
            "opaque",
            "triangular",
            "vertical",
            "dimensional",
            "amorphous",
            "metric",
            "elliptical",
            "concentric",
            "parallel",
        ];
        let word = WORDS[(entropy % WORDS.len() as u64) as usize];
        let number = (entropy >> 16) % 90_000 + 10_000;
        Self(format!("{}-{word}-{number}", service.short()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AddonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attachment's name (`DATABASE`, `CACHE`): upper-case letters, digits and `_`; the
/// config var it sets is `<NAME>_URL`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttachmentName(pub(super) String);

impl AttachmentName {
    /// Lower-case letters and dashes are accepted and normalised (`my-db` → `MY_DB`), as
    /// Heroku does.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = raw.trim().to_ascii_uppercase().replace('-', "_");
        let valid = is_spelled(
            &name,
            1..=60,
            |b| b.is_ascii_uppercase(),
            |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_',
        );
        if !valid {
            return Err(ParseError::new(
                "name",
                format!(
                    "Attachment name {raw:?} is invalid: it must start with a letter and hold only letters, digits and '_'."
                ),
            ));
        }
        ConfigKey::parse(&format!("{name}_URL"))?;
        Ok(Self(name))
    }

    /// A name from the config var it sets (`DATABASE_URL` → `DATABASE`).
    pub fn from_config_var(raw: &str) -> Option<Self> {
        Self::parse(raw.strip_suffix("_URL")?).ok()
    }

    /// The config var this attachment owns.
    pub fn config_var(&self) -> String {
        format!("{}_URL", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttachmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The description of the release that attaching makes, as Heroku writes it.
pub fn attach_description(attachment: &AttachmentName, addon: &AddonName) -> String {
    format!("Attach {attachment} ({addon})")
}

/// The description of the release that detaching makes.
pub fn detach_description(attachment: &AttachmentName, addon: &AddonName) -> String {
    format!("Detach {attachment} ({addon})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_and_attachments_own_their_url_var() {
        let name = AddonName::generate(Service::Postgresql, 0x1234_5678_9abc);
        assert!(AddonName::parse(name.as_str()).is_ok());
        let parts: Vec<&str> = name.as_str().split('-').collect();
        assert_eq!(parts[0], "postgresql");
        assert_eq!(parts[2].len(), 5);
        assert_eq!(
            AttachmentName::parse("cache").unwrap().config_var(),
            "CACHE_URL"
        );
        assert_eq!(AttachmentName::parse("my-db").unwrap().as_str(), "MY_DB");
        assert!(AttachmentName::parse("1DB").is_err());
        assert!(AttachmentName::parse("").is_err());
        assert_eq!(
            AttachmentName::from_config_var("DATABASE_URL").map(|a| a.to_string()),
            Some("DATABASE".into())
        );
        assert_eq!(AttachmentName::from_config_var("DATABASE"), None);
    }
}
