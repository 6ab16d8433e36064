//! Sealing secrets for the database (ACME account credentials, private keys):
//! AES-256-GCM with a random nonce, under a 32-byte key the operator controls —
//! `PAAS_SECRET_KEY` (64 hex digits) or, unset, a file `$PAAS_DATA_DIR/secret.key`
//! made once with mode 0600. A stolen database dump alone reveals no private key.
//!
//! Sealed form: `1` (format version) ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag. The
//! purpose (`b"private key"`, `b"acme account"`) is bound as associated data, so a
//! value cannot be swapped for another kind.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};

use crate::TlsError;

const VERSION: u8 = 1;

pub struct Sealer {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        #[allow(
            clippy::expect_used,
            reason = "a 32-byte key is always valid for AES-256"
        )]
        let key = RandomizedNonceKey::new(&AES_256_GCM, key).expect("AES-256 key");
        Self { key }
    }

    /// From 64 hex digits (`PAAS_SECRET_KEY`).
    pub fn from_hex(hex: &str) -> Result<Self, TlsError> {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or_else(|| TlsError::Invalid("PAAS_SECRET_KEY must be 64 hex digits".into()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TlsError::Invalid("PAAS_SECRET_KEY must be 64 hex digits".into()))?;
        Ok(Self::new(&key))
    }

    /// The key in `path`, made (32 random bytes, mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, TlsError> {
        if !path.exists() {
            let mut key = [0u8; 32];
            aws_lc_rs::rand::fill(&mut key)
                .map_err(|_| TlsError::Invalid("no randomness for a secret key".into()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(TlsError::io(format!("creating {}", dir.display())))?;
            }
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            crate::ca::write_private(path, hex.as_bytes())?;
            tracing::info!(path = %path.display(), "made the secret key that seals private keys in the database: back it up");
        }
        let hex = std::fs::read_to_string(path)
            .map_err(TlsError::io(format!("reading {}", path.display())))?;
        Self::from_hex(hex.trim())
    }

    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Result<Vec<u8>, TlsError> {
        let mut in_out = plain.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(purpose), &mut in_out)
            .map_err(|_| TlsError::Invalid("sealing failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub fn open(&self, purpose: &[u8], sealed: &[u8]) -> Result<Vec<u8>, TlsError> {
        let wrong = || {
            TlsError::Invalid(
                "a sealed secret cannot be opened: wrong PAAS_SECRET_KEY (or secret.key) or damaged data"
                    .into(),
            )
        };
        let (&version, rest) = sealed.split_first().ok_or_else(wrong)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose), &mut in_out)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let sealer = Sealer::load_or_create(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = sealer
            .seal(b"private key", b"-----BEGIN PRIVATE KEY-----")
            .unwrap();
        assert!(
            !sealed.windows(5).any(|w| w == b"BEGIN"),
            "not in the clear"
        );
        let again = Sealer::load_or_create(&path).unwrap();
        assert_eq!(
            again.open(b"private key", &sealed).unwrap(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert!(
            again.open(b"acme account", &sealed).is_err(),
            "bound to its purpose"
        );
        let other = Sealer::from_hex(&"ab".repeat(32)).unwrap();
        assert!(other.open(b"private key", &sealed).is_err());
        assert!(Sealer::from_hex("abc").is_err());
    }
}
