//! Certificates for custom domains from an ACME CA (RFC 8555), and the manager that
//! keeps the SNI table's [`Layer::Uploaded`] and [`Layer::Acme`] parts in step with the
//! store.
//!
//! Every pass (on a nudge from the API or every `poll`): uploaded certificates and
//! issued ACME certificates are loaded into the table (parsed once per version); then
//! each custom domain of an app with ACM on that is due — no certificate, or one
//! expiring within `renew_before` (30 days) — and whose backoff has passed is ordered,
//! one at a time, answering HTTP-01 through [`Challenges`] (served by the router's
//! plain listener) or TLS-ALPN-01 through the table's challenge certificates (served by
//! the router's TLS listener): the first of [`AcmeSettings::challenges`] the CA offers,
//! the next one after each failure (port 80 blocked, 443 open, or the reverse). A failure records `failing` with the CA's own reason and backs off
//! exponentially up to `backoff_cap`; the certificate the domain had keeps serving.
//! Issued certificates are stored (key sealed), so a restart orders nothing that is
//! still valid. A removed domain's row goes with it: it is neither served nor renewed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use paas_store::{DomainCert, Store};
use rustls::sign::CertifiedKey;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::seal::Sealer;
use crate::table::{CertTable, Layer, Names};
use crate::{TlsError, is_local_name, pem};

/// Associated data for sealed values.
pub const KEY_PURPOSE: &[u8] = b"private key";
const ACCOUNT_PURPOSE: &[u8] = b"acme account";

#[derive(Debug, Clone)]
pub struct AcmeSettings {
    /// `PAAS_ACME_DIRECTORY`: the CA's directory URL.
    pub directory_url: String,
    /// `PAAS_ACME_EMAIL`: the account's contact, if any.
    pub email: Option<String>,
    /// `PAAS_ACME_CA_ROOT`: a PEM root to trust for the directory's own HTTPS (a test
    /// CA such as pebble); `None`: the system's roots.
    pub ca_root: Option<std::path::PathBuf>,
    /// Renew this long before expiry (30 days, as Heroku and Let's Encrypt advise).
    pub renew_before: chrono::Duration,
    /// Time between passes when nothing nudges.
    pub poll: Duration,
    /// First retry after a failure; doubles per failure up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// `PAAS_DOMAIN` when it is a public name no operator certificate covers: each app's
    /// default host `<app>.<domain>` is then ordered like a custom domain.
    pub default_domain: Option<String>,
    /// Challenge types in order of preference; attempt `n` after `n` failures starts
    /// with entry `n % len`.
    pub challenges: Vec<Challenge>,
    /// False when ACME is off (`PAAS_ACME_DIRECTORY=off`): the manager still serves
    /// uploaded and stored certificates, orders nothing, and shows domains `disabled`.
    pub ordering: bool,
}

impl AcmeSettings {
    pub fn new(directory_url: impl Into<String>) -> Self {
        Self {
            directory_url: directory_url.into(),
            email: None,
            ca_root: None,
            renew_before: chrono::Duration::days(30),
            poll: Duration::from_secs(60),
            backoff_base: Duration::from_secs(60),
            backoff_cap: Duration::from_secs(24 * 3600),
            default_domain: None,
            challenges: vec![Challenge::Http01, Challenge::TlsAlpn01],
            ordering: true,
        }
    }
}

/// How the CA checks that paas answers for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `http://<name>/.well-known/acme-challenge/<token>` on the router's plain listener.
    Http01,
    /// A handshake with ALPN `acme-tls/1` on the router's TLS listener (RFC 8737).
    TlsAlpn01,
}

impl Challenge {
    /// `http-01`, `tls-alpn-01` (as `PAAS_ACME_CHALLENGES` lists them).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "http-01" => Some(Self::Http01),
            "tls-alpn-01" => Some(Self::TlsAlpn01),
            _ => None,
        }
    }

    fn acme_type(self) -> ChallengeType {
        match self {
            Self::Http01 => ChallengeType::Http01,
            Self::TlsAlpn01 => ChallengeType::TlsAlpn01,
        }
    }
}

/// Let's Encrypt's production directory, the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Pending HTTP-01 answers: token → key authorization. Read by the router per
/// challenge request (a pointer load), written by the manager per order.
#[derive(Debug, Default)]
pub struct Challenges(ArcSwap<HashMap<String, String>>);

impl Challenges {
    pub fn get(&self, token: &str) -> Option<String> {
        self.0.load().get(token).cloned()
    }

    fn set(&self, token: &str, answer: Option<&str>) {
        self.0.rcu(|current| {
            let mut next = HashMap::clone(current);
            match answer {
                Some(answer) => next.insert(token.to_owned(), answer.to_owned()),
                None => next.remove(token),
            };
            next
        });
    }
}

/// Parsed certificates by (row id, version stamp).
type ParsedCache = HashMap<(Uuid, DateTime<Utc>), Arc<CertifiedKey>>;

/// Platform events for an app's log stream: `(app, message)`.
pub type Events = dyn Fn(&str, String) + Send + Sync;

pub struct CertManager {
    store: Store,
    table: Arc<CertTable>,
    sealer: Arc<Sealer>,
    settings: AcmeSettings,
    challenges: Arc<Challenges>,
    events: Arc<Events>,
    account: tokio::sync::Mutex<Option<Account>>,
    /// Orders placed by this manager (a restart that reuses stored certificates
    /// places none).
    orders: std::sync::atomic::AtomicUsize,
    /// Parsed certificates by (row id, version stamp): parsed once, not per pass.
    parsed: Mutex<ParsedCache>,
}

impl std::fmt::Debug for CertManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertManager")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CertManager {
    pub fn new(
        store: Store,
        table: Arc<CertTable>,
        sealer: Arc<Sealer>,
        settings: AcmeSettings,
        events: impl Fn(&str, String) + Send + Sync + 'static,
    ) -> Self {
        Self {
            store,
            table,
            sealer,
            settings,
            challenges: Arc::default(),
            events: Arc::new(events),
            account: tokio::sync::Mutex::new(None),
            orders: std::sync::atomic::AtomicUsize::new(0),
            parsed: Mutex::default(),
        }
    }

    /// The HTTP-01 answers, for the router's plain listener.
    pub fn challenges(&self) -> Arc<Challenges> {
        self.challenges.clone()
    }

    /// How many orders this manager has placed.
    pub fn orders(&self) -> usize {
        self.orders.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs passes until `shutdown`: at once, on every `nudge`, and every `poll`.
    pub async fn run(self: Arc<Self>, nudge: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "certificate pass failed");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = nudge.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// One pass (see the module doc).
    pub async fn pass(&self) -> Result<(), TlsError> {
        let pruned = self
            .store
            .prune_host_certs(self.settings.default_domain.as_deref())
            .await
            .map_err(store_error)?;
        if pruned > 0 {
            tracing::info!(
                pruned,
                "dropped the certificates of default hosts no longer served"
            );
        }
        let domains = self.reload().await?;
        let now = Utc::now();
        for domain in domains {
            if !(domain.acm_enabled && self.settings.ordering) {
                if domain.status != "disabled" {
                    self.store
                        .set_domain_cert_status(&domain, "disabled")
                        .await
                        .map_err(store_error)?;
                }
                continue;
            }
            if is_local_name(&domain.hostname)
                || self.table.covered_above(Layer::Acme, &domain.hostname)
            {
                continue;
            }
            let due = domain
                .not_after
                .filter(|_| domain.chain_pem.is_some())
                .is_none_or(|not_after| not_after - self.settings.renew_before <= now);
            if due && domain.next_attempt_at <= now {
                self.order(&domain).await?;
            }
        }
        Ok(())
    }

    /// Loads uploaded and issued certificates into the table; returns the custom domains
    /// and (with [`AcmeSettings::default_domain`]) the apps' default hosts. An
    /// uploaded certificate serves only its own app's custom domains that it covers, so
    /// one app's upload can never take over another app's hostname.
    pub async fn reload(&self) -> Result<Vec<DomainCert>, TlsError> {
        let endpoints = self.store.all_sni_endpoints().await.map_err(store_error)?;
        let mut domains = self.store.domain_certs().await.map_err(store_error)?;
        if let Some(default_domain) = &self.settings.default_domain {
            let hosts = self
                .store
                .default_host_certs(default_domain)
                .await
                .map_err(store_error)?;
            domains.extend(hosts);
        }
        let mut uploaded = Names::new();
        for e in &endpoints {
            match self.parsed(e.endpoint_id, e.updated_at, &e.chain_pem, &e.key_sealed) {
                Ok((key, names)) => {
                    let covered = domains.iter().filter(|d| {
                        !d.default_host
                            && d.app_id == e.app_id
                            && names.iter().any(|n| pem::name_covers(n, &d.hostname))
                    });
                    for d in covered {
                        uploaded.insert(d.hostname.clone(), key.clone());
                    }
                }
                Err(err) => {
                    tracing::warn!(app = %e.app_name, endpoint = %e.name, error = %err, "an uploaded certificate cannot be served")
                }
            }
        }
        self.table.set_layer(Layer::Uploaded, uploaded, None);
        let mut acme = Names::new();
        for d in domains.iter().filter(|d| d.acm_enabled) {
            let (Some(chain), Some(key), Some(issued)) = (&d.chain_pem, &d.key_sealed, d.issued_at)
            else {
                continue;
            };
            match self.parsed(d.domain_id, issued, chain, key) {
                Ok((key, _)) => {
                    acme.insert(d.hostname.clone(), key);
                }
                Err(err) => {
                    tracing::warn!(domain = %d.hostname, error = %err, "a stored certificate cannot be served")
                }
            }
        }
        self.table.set_layer(Layer::Acme, acme, None);
        let mut parsed = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        let live: std::collections::HashSet<Uuid> = endpoints
            .iter()
            .map(|e| e.endpoint_id)
            .chain(domains.iter().map(|d| d.domain_id))
            .collect();
        parsed.retain(|(id, _), _| live.contains(id));
        Ok(domains)
    }

    fn parsed(
        &self,
        id: Uuid,
        stamp: DateTime<Utc>,
        chain_pem: &str,
        key_sealed: &[u8],
    ) -> Result<(Arc<CertifiedKey>, Vec<String>), TlsError> {
        let key_pem = String::from_utf8(self.sealer.open(KEY_PURPOSE, key_sealed)?)
            .map_err(|_| TlsError::Invalid("a sealed key is not text".into()))?;
        let mut cache = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = cache.get(&(id, stamp)) {
            let names = pem::info(&key.cert[0])?.names;
            return Ok((key.clone(), names));
        }
        // Stored certificates are served until they expire: checked against their own
        // start so an expired one still loads (and is renewed), rather than vanishing.
        let info = pem::chain_info(chain_pem)?;
        let parsed = pem::parse(chain_pem, &key_pem, info.not_before)?;
        cache.insert((id, stamp), parsed.key.clone());
        Ok((parsed.key, parsed.info.names))
    }

    /// Orders a certificate for one domain and records the outcome.
    async fn order(&self, domain: &DomainCert) -> Result<(), TlsError> {
        let renewal = domain.chain_pem.is_some();
        tracing::info!(domain = %domain.hostname, renewal, "ordering a certificate");
        let failures = usize::try_from(domain.failures.max(0)).unwrap_or(0);
        match self.issue(&domain.hostname, failures).await {
            Ok((chain, key_pem, info)) => {
                let sealed = self.sealer.seal(KEY_PURPOSE, key_pem.as_bytes())?;
                self.store
                    .record_issued(domain, &chain, &sealed, info.not_after)
                    .await
                    .map_err(store_error)?;
                let what = if renewal { "Renewed" } else { "Issued" };
                (self.events)(
                    &domain.app_name,
                    format!(
                        "{what} certificate for {} (expires {})",
                        domain.hostname,
                        info.not_after.format("%Y-%m-%d %H:%M UTC")
                    ),
                );
                self.reload().await?;
            }
            Err(reason) => {
                let failures = u32::try_from(domain.failures.max(0)).unwrap_or(0);
                let backoff = self
                    .settings
                    .backoff_base
                    .saturating_mul(2u32.saturating_pow(failures.min(20)))
                    .min(self.settings.backoff_cap);
                let next = Utc::now()
                    + chrono::Duration::from_std(backoff).unwrap_or(chrono::Duration::days(1));
                tracing::warn!(domain = %domain.hostname, %reason, retry_in = ?backoff, "certificate order failed");
                self.store
                    .record_failure(domain, &reason, next)
                    .await
                    .map_err(store_error)?;
                let kept = if renewal {
                    "; the current certificate keeps serving"
                } else {
                    ""
                };
                (self.events)(
                    &domain.app_name,
                    format!(
                        "Certificate for {} failing: {reason} (next attempt {}{kept})",
                        domain.hostname,
                        next.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                );
            }
        }
        Ok(())
    }

    /// The challenge types for an attempt after `failures` failures, in order.
    fn challenge_order(&self, failures: usize) -> Vec<Challenge> {
        let mut order = self.settings.challenges.clone();
        if !order.is_empty() {
            let start = failures % order.len();
            order.rotate_left(start);
        }
        order
    }

    /// Runs one ACME order for `host`: (chain PEM, key PEM, what the chain says), or
    /// the reason it failed, in the CA's words where it gave any.
    async fn issue(
        &self,
        host: &str,
        failures: usize,
    ) -> Result<(String, String, pem::CertInfo), String> {
        let account = self.account().await.map_err(|e| e.to_string())?;
        let identifiers = [Identifier::Dns(host.to_owned())];
        self.orders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(acme_reason)?;
        let mut tokens = Vec::new();
        let mut alpn_hosts = Vec::new();
        let preference = self.challenge_order(failures);
        let result = async {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(acme_reason)?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => return Err(format!("authorization is {other:?}")),
                }
                let offered = preference.iter().copied().find(|kind| {
                    authz
                        .challenges
                        .iter()
                        .any(|c| c.r#type == kind.acme_type())
                });
                let Some(kind) = offered else {
                    return Err(format!(
                        "the CA offered none of the challenges paas answers ({preference:?})"
                    ));
                };
                let name = match authz.identifier().identifier {
                    Identifier::Dns(name) => name.clone(),
                    other => return Err(format!("cannot answer for {other:?}")),
                };
                let mut challenge = authz
                    .challenge(kind.acme_type())
                    .ok_or_else(|| "the CA withdrew its challenge".to_owned())?;
                let answer = challenge.key_authorization();
                match kind {
                    Challenge::Http01 => {
                        self.challenges.set(&challenge.token, Some(answer.as_str()));
                        tokens.push(challenge.token.clone());
                    }
                    Challenge::TlsAlpn01 => {
                        let cert = alpn_certificate(&name, answer.digest().as_ref())
                            .map_err(|e| format!("making the tls-alpn-01 certificate: {e}"))?;
                        self.table.set_alpn_challenge(&name, Some(cert));
                        alpn_hosts.push(name);
                    }
                }
                tracing::debug!(%host, challenge = ?kind, "answering the CA's challenge");
                challenge.set_ready().await.map_err(acme_reason)?;
            }
            let retries = RetryPolicy::new().timeout(Duration::from_secs(90));
            let status = order.poll_ready(&retries).await.map_err(acme_reason)?;
            if status != OrderStatus::Ready {
                return Err(order_reason(&mut order).await);
            }
            let key_pem = order.finalize().await.map_err(acme_reason)?;
            let chain = order
                .poll_certificate(&retries)
                .await
                .map_err(acme_reason)?;
            Ok((chain, key_pem))
        }
        .await;
        for token in &tokens {
            self.challenges.set(token, None);
        }
        for name in &alpn_hosts {
            self.table.set_alpn_challenge(name, None);
        }
        let (chain, key_pem) = result?;
        let parsed = pem::parse(&chain, &key_pem, Utc::now())
            .map_err(|e| format!("the CA's certificate is unusable: {e}"))?;
        Ok((parsed.chain_pem, parsed.key_pem, parsed.info))
    }

    /// The ACME account: loaded from the store, else created there (credentials sealed).
    async fn account(&self) -> Result<Account, TlsError> {
        let mut account = self.account.lock().await;
        if let Some(account) = account.as_ref() {
            return Ok(account.clone());
        }
        let builder = || match &self.settings.ca_root {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        };
        let acme = |e: instant_acme::Error| TlsError::Acme(e.to_string());
        let url = &self.settings.directory_url;
        let made = match self.store.acme_account(url).await.map_err(store_error)? {
            Some(sealed) => {
                let json = self.sealer.open(ACCOUNT_PURPOSE, &sealed)?;
                let credentials: AccountCredentials = serde_json::from_slice(&json)
                    .map_err(|e| TlsError::Acme(format!("stored ACME account: {e}")))?;
                builder()
                    .map_err(acme)?
                    .from_credentials(credentials)
                    .await
                    .map_err(acme)?
            }
            None => {
                let contact = self.settings.email.as_ref().map(|e| format!("mailto:{e}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (made, credentials) = builder()
                    .map_err(acme)?
                    .create(
                        &NewAccount {
                            contact: &contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        url.clone(),
                        None,
                    )
                    .await
                    .map_err(acme)?;
                let json = serde_json::to_vec(&credentials)
                    .map_err(|e| TlsError::Acme(format!("ACME account: {e}")))?;
                let sealed = self.sealer.seal(ACCOUNT_PURPOSE, &json)?;
                self.store
                    .save_acme_account(url, &sealed)
                    .await
                    .map_err(store_error)?;
                tracing::info!(directory = %url, "created an ACME account");
                made
            }
        };
        *account = Some(made.clone());
        Ok(made)
    }
}

/// The self-signed certificate that answers TLS-ALPN-01 for `name` (RFC 8737 §3): the
/// name as its only SAN and the critical acmeIdentifier extension holding `digest`, the
/// SHA-256 of the key authorization.
fn alpn_certificate(name: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    // Not through `pem::parse`: webpki (rightly) refuses the critical extension it does
    // not know, and only the CA reads this certificate.
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into();
    let signer = crate::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError::Invalid(format!("the challenge key: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

/// The CA's words for a failure: a problem document's detail, else the error.
fn acme_reason(e: instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(problem) => problem_text(&problem),
        other => other.to_string(),
    }
}

fn problem_text(problem: &instant_acme::Problem) -> String {
    let mut text = problem
        .detail
        .clone()
        .or_else(|| problem.r#type.clone())
        .unwrap_or_else(|| "the CA refused the order".into());
    for sub in &problem.subproblems {
        if let Some(detail) = &sub.detail {
            text.push_str("; ");
            text.push_str(detail);
        }
    }
    text
}

/// Why an order became invalid: the first failed challenge's error, in the CA's words.
async fn order_reason(order: &mut instant_acme::Order) -> String {
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = authorizations.next().await {
        for challenge in &authz.challenges {
            if let Some(error) = &challenge.error {
                return problem_text(error);
            }
        }
    }
    "the order became invalid".into()
}

fn store_error(e: paas_store::StoreError) -> TlsError {
    TlsError::Store(e.to_string())
}
