//! The route table's entries for one app: its ready web dynos that are not leaving,
//! under `<app>.<domain>` and each custom domain.

use std::collections::HashSet;

use paas_core::reconcile::{DynoState, ObservedDyno};
use paas_core::routes::{AppRoutes, Backend};
use paas_core::runtime::{ContainerRuntime, ObservedContainer};

use crate::Supervisor;
use crate::pass::Want;

impl<R: ContainerRuntime> Supervisor<R> {
    pub(crate) fn app_routes(
        &self,
        want: &Want,
        containers: &[ObservedContainer],
        observed: &[ObservedDyno],
        leaving: &HashSet<&str>,
    ) -> Vec<(String, AppRoutes)> {
        let backends: Vec<Backend> = containers
            .iter()
            .zip(observed)
            .filter(|(c, o)| {
                c.dyno.is_web()
                    && !leaving.contains(c.id.as_str())
                    && matches!(o.state, DynoState::Running { ready: true, .. })
            })
            .filter_map(|(c, _)| {
                c.web_addr(self.settings.web_port).map(|addr| Backend {
                    dyno: c.dyno.name.to_string(),
                    addr,
                    version: c.dyno.version.get(),
                })
            })
            .collect();
        let app_routes = AppRoutes {
            maintenance: want.maintenance,
            app: want.app_name.to_string(),
            backends,
        };
        let mut routes: Vec<(String, AppRoutes)> = want
            .hostnames
            .iter()
            .map(|host| (host.clone(), app_routes.clone()))
            .collect();
        routes.push((
            format!("{}.{}", want.app_name, self.settings.domain),
            app_routes,
        ));
        routes
    }
}
