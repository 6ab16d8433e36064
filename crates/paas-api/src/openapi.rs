//! `GET /openapi.json`: the API description, generated from the handlers.
//!
//! Every resource module builds its routes with `utoipa_axum`'s `routes!`, which takes
//! each route's path and method from the handler's `#[utoipa::path]`; the served router
//! and this document come out of the same `OpenApiRouter` (see `crate::api_router`), so
//! a route cannot exist without being described. Request and response bodies are the
//! `paas_wire` shapes (`ToSchema` behind its `openapi` feature).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "paas control API",
        description = "Heroku Platform API v3 paths and shapes (apps, config vars, releases, formation, dynos, builds, domains) plus paas's git endpoint. Errors are `{\"id\", \"message\"}`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(paas_wire::ErrorBody))
)]
pub(crate) struct ApiDoc;

/// `Authorization: Bearer <token>`, the scheme every endpoint but two requires.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A paas API token (`paasd tokens create`); HTTP basic auth with the token as password works too.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "push_secret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The one-time secret git's pre-receive hook got from paasd for this push (internal).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The error answers of an authenticated endpoint, each with Heroku's error body.
pub(crate) struct Errors;

impl utoipa::IntoResponses for Errors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        [
            ("400", "Malformed request (bad JSON, bad path)"),
            ("401", "Missing or unknown API token"),
            ("404", "No such app, release, dyno, … (or route)"),
            (
                "409",
                "Conflicts with the current state (name taken, release pending)",
            ),
            (
                "422",
                "A value that does not parse (app name, config key, quantity)",
            ),
            ("503", "The platform's database or Docker is unavailable"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build();
            (status.to_owned(), RefOr::T(response))
        })
        .collect()
    }
}

/// This document, as JSON.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json", body = Object))
)]
pub(crate) async fn document() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        crate::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    });
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
