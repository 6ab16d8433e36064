//! What `GET /metrics` shows beyond the API's own: the router's counters, certificate
//! expiry, scheduled backups and add-ons, rendered in one text.

use std::sync::Arc;

use crate::backup;

/// The router's counters, as `GET /metrics` shows them.
#[derive(Debug)]
pub(crate) struct RouterMetrics(
    pub(crate) Arc<paas_router::Metrics>,
    pub(crate) Option<Arc<paas_tls::CertTable>>,
    pub(crate) Option<Arc<backup::BackupStatus>>,
    pub(crate) Arc<paas_addons::metrics::AddonMetrics>,
);

impl paas_api::MetricsText for RouterMetrics {
    fn render(&self) -> String {
        let mut out = self.0.render();
        if let Some(certs) = &self.1 {
            out.push_str(&certs.render_metrics());
        }
        if let Some(backups) = &self.2 {
            out.push_str(&backups.render_metrics());
        }
        out.push_str(&self.3.render_metrics());
        out
    }
}
