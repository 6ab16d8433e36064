//! The control API against a real Postgres (one database per test), driven through
//! `tower::ServiceExt::oneshot` so every layer (auth, rejections, error mapping) runs.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

mod apps;
mod auth;
mod buildpacks;
mod certs;
mod config_vars;
mod formation;
mod logs;
mod openapi;
mod releases;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use paas_api::{ApiSettings, AppState};
use paas_store::Store;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

pub struct TestApi {
    pub router: axum::Router,
    pub store: Store,
    pub token: String,
    pub logs: std::sync::Arc<paas_logs::LogHub>,
    _data: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
}

impl TestApi {
    pub async fn new(pool: PgPool) -> Self {
        let store = Store::from_pool(pool);
        let token = store.create_token("test").await.expect("token").secret;
        let settings = ApiSettings {
            domain: "localhost".into(),
            web_url: paas_core::routes::WebUrl {
                domain: "localhost".into(),
                http_port: 8080,
                https_port: None,
            },
            public_url: "http://127.0.0.1:5000".into(),
            local_url: "http://127.0.0.1:5000".into(),
            instance: "api-tests".into(),
            dyno_limits: paas_core::runtime::DynoLimits {
                memory_bytes: 256 << 20,
                ..Default::default()
            },
            rendezvous_url: None,
        };
        let data = tempfile::tempdir().expect("tempdir");
        let builder = paas_builder::Builder::new(
            store.clone(),
            paas_builder::Docker::connect().expect("docker client"),
            paas_builder::BuildSettings {
                data_dir: data.path().to_owned(),
                buildpacks_dir: data.path().join("buildpacks"),
                buildpack_order: vec![],
                stack_image: "paas/stack:bookworm".into(),
                ca_bundle: None,
                proxy_env: vec![],
                limits: paas_builder::Limits {
                    memory_bytes: 1 << 30,
                    nano_cpus: 1_000_000_000,
                    pids: 1024,
                },
                web_url: paas_core::routes::WebUrl {
                    domain: "localhost".into(),
                    http_port: 8080,
                    https_port: None,
                },
                instance: "api-tests".into(),
                dyno_limits: paas_core::runtime::DynoLimits {
                    memory_bytes: 256 << 20,
                    ..Default::default()
                },
            },
        );
        let logs = std::sync::Arc::new(paas_logs::LogHub::new());
        let docker = paas_builder::Docker::connect().expect("docker client");
        let addons = paas_addons::Addons::new(
            store.clone(),
            docker.clone(),
            paas_addons::AddonSettings {
                instance: "api-tests".into(),
                stack_image: "paas/stack:bookworm".into(),
                build_limits: paas_builder::Limits::BUILD_DEFAULT,
                log: Default::default(),
                backup_dir: data.path().join("backups"),
            },
            std::sync::Arc::new(paas_core::runtime::NoNudge),
        );
        let state = AppState {
            store: store.clone(),
            addons,
            settings: settings.into(),
            builder: builder.into(),
            docker,
            nodes: std::sync::Arc::new(paas_builder::Docker::connect().expect("docker client")),
            nudge: std::sync::Arc::new(paas_core::runtime::NoNudge),
            rendezvous: Default::default(),
            logs: logs.clone(),
            drains_changed: Default::default(),
            shutdown: Default::default(),
            metrics: None,
            certs: Some(paas_tls::CertsHandle {
                sealer: std::sync::Arc::new(paas_tls::seal::Sealer::new(&[7; 32])),
                changed: Default::default(),
            }),
        };
        let router = paas_api::router(state);
        Self {
            router,
            store,
            token,
            logs,
            _data: data,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("accept", paas_wire::HEROKU_V3_MEDIA_TYPE);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.raw(request.body(body).expect("request")).await
    }

    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("non-JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {}", self.token);
        self.send(method, path, body, Some(&auth)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn release_count(&self, app: &str) -> usize {
        self.get(&format!("/apps/{app}/releases"))
            .await
            .json
            .as_array()
            .map_or(0, Vec::len)
    }
}
