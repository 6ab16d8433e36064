//! paasd's local certificate authority: a root made once under `<dir>/root.pem` (the
//! file users trust: `curl --cacert $PAAS_DATA_DIR/tls/ca/root.pem`) with its key
//! beside it (mode 0600), kept across restarts, signing short-lived leaf certificates
//! for local names (`demo.localhost`) in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::TlsError;

/// How long a leaf lasts; the local follower re-issues well before.
pub const LEAF_LIFETIME: Duration = Duration::days(30);

/// The root's common name, as clients show it.
const ROOT_NAME: &str = "paas local CA";

pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    root_pem: String,
    root_path: PathBuf,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("root", &self.root_path)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// The CA kept in `dir` (`$PAAS_DATA_DIR/tls/ca`), made there on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let root_path = dir.join("root.pem");
        let key_path = dir.join("root.key");
        if !(root_path.exists() && key_path.exists()) {
            std::fs::create_dir_all(dir)
                .map_err(TlsError::io(format!("creating {}", dir.display())))?;
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params
                .distinguished_name
                .push(DnType::CommonName, ROOT_NAME);
            params
                .distinguished_name
                .push(DnType::OrganizationName, "paas");
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let now = OffsetDateTime::now_utc();
            params.not_before = now - Duration::hours(1);
            params.not_after = now + Duration::days(3650);
            let root = params.self_signed(&key)?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            std::fs::write(&root_path, root.pem())
                .map_err(TlsError::io(format!("writing {}", root_path.display())))?;
            tracing::info!(root = %root_path.display(), "made the local certificate authority: clients trust it with curl --cacert {}", root_path.display());
        }
        let root_pem = std::fs::read_to_string(&root_path)
            .map_err(TlsError::io(format!("reading {}", root_path.display())))?;
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(TlsError::io(format!("reading {}", key_path.display())))?;
        let key = KeyPair::from_pem(&key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&root_pem, key)?;
        Ok(Self {
            issuer,
            root_pem,
            root_path,
        })
    }

    /// The root certificate file clients are told to trust.
    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// A new leaf for `names` (DNS names or IP addresses), chained to the root.
    pub fn issue(&self, names: &[String]) -> Result<Arc<CertifiedKey>, TlsError> {
        let (leaf, key) = self.leaf(names)?;
        let root = rustls::pki_types::pem::PemObject::from_pem_slice(self.root_pem.as_bytes())
            .map_err(|_| TlsError::Invalid("the local CA's root is not PEM".into()))?;
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), root];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let certified = CertifiedKey::from_der(chain, key, &crate::provider())
            .map_err(|e| TlsError::Invalid(format!("the local CA's leaf is unusable: {e}")))?;
        Ok(Arc::new(certified))
    }

    /// A new leaf as PEM: (chain, private key), for servers that read files.
    pub fn issue_pem(&self, names: &[String]) -> Result<(String, String), TlsError> {
        self.issue_pem_for(names, LEAF_LIFETIME.unsigned_abs())
    }

    /// As [`LocalCa::issue_pem`], valid for `lifetime` (a long-lived file on disk).
    pub fn issue_pem_for(
        &self,
        names: &[String],
        lifetime: std::time::Duration,
    ) -> Result<(String, String), TlsError> {
        let (leaf, key) = self.leaf_for(names, lifetime)?;
        Ok((
            format!("{}{}", leaf.pem(), self.root_pem),
            key.serialize_pem(),
        ))
    }

    fn leaf(&self, names: &[String]) -> Result<(rcgen::Certificate, KeyPair), TlsError> {
        self.leaf_for(names, LEAF_LIFETIME.unsigned_abs())
    }

    fn leaf_for(
        &self,
        names: &[String],
        lifetime: std::time::Duration,
    ) -> Result<(rcgen::Certificate, KeyPair), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + lifetime;
        let leaf = params.signed_by(&key, &self.issuer)?;
        Ok((leaf, key))
    }
}

/// Writes a secret file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(TlsError::io(format!("writing {}", path.display())))?;
    file.write_all(bytes)
        .map_err(TlsError::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_ca_is_made_once_and_its_leaves_chain_to_the_kept_root() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("root.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = LocalCa::load_or_create(dir.path()).unwrap();
        assert_eq!(ca.root_pem(), again.root_pem(), "kept, not made again");
        let leaf = again.issue(&["demo.localhost".into()]).unwrap();
        let info = crate::pem::info(&leaf.cert[0]).unwrap();
        assert_eq!(info.names, ["demo.localhost"]);
        assert!(info.issuer.contains(ROOT_NAME), "{}", info.issuer);
        assert!(!info.self_signed);
    }
}
