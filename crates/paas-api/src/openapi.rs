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
        serde_json::to_string_pretty(&crate::openapi_json())
            .expect("the OpenAPI document serializes")
    });
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}

/// The rules of `paas_core`'s parsers that the derived schemas cannot state (patterns,
/// enums, bounds), written into the document so that a request the description allows
/// is one the handler takes, and one it forbids is refused. Each pattern is the parser's
/// rule spelled as an ECMA-262 regex; `every_core_rule_agrees_with_its_parser` holds
/// them together.
pub(crate) mod rules {
    use paas_core::addons::Service;
    use serde_json::{Value, json};

    /// `paas_core::ConfigKey` (reserved names are listed apart).
    pub const CONFIG_KEY: &str = r"^[A-Za-z_][A-Za-z0-9_]{0,255}$";
    /// `paas_core::AttachmentName`, as typed: surrounding spaces dropped, letters
    /// uppercased, `-` read as `_`.
    pub const ATTACHMENT_NAME: &str = r"^[ \t\r\n]*[A-Za-z][A-Za-z0-9_-]{0,59}[ \t\r\n]*$";
    /// `paas_core::ReleaseRef`: a version (`v3`, `3`) or a release id.
    pub const RELEASE_REF: &str = r"^(v?0*[1-9][0-9]{0,8}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$";
    /// `paas_core::buildpacks::Buildpack::parse`: a bundled name, or a git URL or an
    /// absolute path without blanks.
    pub const BUILDPACK: &str = r"^[ \t\r\n]*((heroku/)?(ruby|python|nodejs|java|php|go|static|procfile)|(https?://|git://|ssh://|git@|file://|/)[^\s\x00-\x1f\x7f]*)[ \t\r\n]*$";
    /// A quantity as text: 0 to 100 (leading zeros too), or a signed change.
    pub const QUANTITY_TEXT: &str =
        r"^[ \t\r\n]*(0{0,2}[0-9]|0?[1-9][0-9]|100|[+-][0-9]{1,3})[ \t\r\n]*$";
    /// A log session's `dyno` filter.
    pub const LOG_DYNO: &str = r"^[A-Za-z0-9._-]{0,64}$";
    /// `paas_logs::parse_drain_url`: syslog://host:port, http:// or https://.
    pub const DRAIN_URL: &str = r"^(syslog://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])|https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(/[^\s]*)?)$";
    /// Seconds as a string (`expires_in`): 1 to 99,999,999 (the handler's bound is
    /// 315,360,000, ten years).
    pub const SECONDS_TEXT: &str = r"^[ \t\r\n]*0*[1-9][0-9]{0,7}[ \t\r\n]*$";
    /// Every spelling of a service `paas_core::addons::Service::parse` takes (it also
    /// takes them in capitals or with spaces around).
    pub const SERVICE_NAMES: &[&str] = &[
        "postgresql",
        "postgres",
        "pg",
        "heroku-postgresql",
        "redis",
        "heroku-redis",
    ];

    /// `SERVICE` and `SERVICE:PLAN` for every service spelling and plan.
    pub fn plan_names() -> Vec<String> {
        let mut out = Vec::new();
        for name in SERVICE_NAMES {
            out.push((*name).to_owned());
            if let Ok(service) = Service::parse(name) {
                out.extend(service.plans().iter().map(|p| format!("{name}:{}", p.name)));
            }
        }
        out
    }

    fn config_key_names() -> Value {
        json!({"type": "string", "pattern": CONFIG_KEY,
               "not": {"enum": paas_core::dyno::PLATFORM_VARS}})
    }

    /// Sets the member at `pointer`, whose parent object must exist (a rule for a schema
    /// that is gone fails the tests rather than being dropped).
    fn set(schema: &mut Value, pointer: &str, value: Value) {
        let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
        match schema.pointer_mut(parent).and_then(Value::as_object_mut) {
            Some(object) => {
                object.insert(key.replace("~1", "/").replace("~0", "~"), value);
            }
            None => panic!("the OpenAPI document has no object at {parent}"),
        }
    }

    pub(crate) fn apply(doc: &mut Value) {
        let s = "/components/schemas";
        let null_only = || json!({"type": "null"});
        set(
            doc,
            &format!("{s}/AppUpdate/properties/build_stack"),
            json!({"enum": [crate::present::STACK, null], "description": "Only the current stack."}),
        );
        set(
            doc,
            &format!("{s}/AppUpdate/properties/name"),
            json!({"type": "null", "description": "paas does not rename apps: only null (or the app's current name) is taken."}),
        );
        set(
            doc,
            &format!("{s}/AddonCreate/properties/plan"),
            json!({
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "enum": plan_names(),
                "description": "`SERVICE[:PLAN]` (the service also in capitals)."}}}),
        );
        set(
            doc,
            &format!("{s}/AddonCreate/properties/name"),
            null_only(),
        );
        set(
            doc,
            &format!("{s}/AddonCreate/properties/config"),
            json!({"type": ["object", "null"], "maxProperties": 0, "description": "Provider options: none are supported."}),
        );
        set(
            doc,
            &format!("{s}/AddonCreate/properties/attachment"),
            json!({
            "type": ["object", "null"],
            "properties": {"name": {"type": ["string", "null"], "pattern": ATTACHMENT_NAME}}}),
        );
        set(
            doc,
            &format!("{s}/AttachmentCreate/properties/name"),
            json!({"type": ["string", "null"], "pattern": ATTACHMENT_NAME}),
        );
        set(
            doc,
            &format!("{s}/AttachmentCreate/properties/namespace"),
            json!({"type": "null", "description": "paas add-ons have one credential."}),
        );
        let services = json!({"enum": SERVICE_NAMES.iter().map(|s| Value::from(*s)).chain([Value::Null]).collect::<Vec<_>>()});
        set(
            doc,
            &format!("{s}/AddonResolve/properties/addon_service"),
            services.clone(),
        );
        set(
            doc,
            &format!("{s}/AttachmentResolve/properties/addon_service"),
            services,
        );
        set(
            doc,
            &format!("{s}/DynoCreate/properties/command"),
            json!({"type": "string", "pattern": r"\S", "description": "Not blank."}),
        );
        set(
            doc,
            &format!("{s}/DynoCreate/properties/env"),
            json!({
            "type": ["object", "null"],
            "description": "Extra environment. The heroku CLI on a terminal sends `COLUMNS` and `LINES` as numbers: numbers and booleans are taken as their text.",
            "propertyNames": config_key_names(),
            "additionalProperties": {"type": ["string", "number", "boolean"]}}),
        );
        set(
            doc,
            &format!("{s}/LogDrainCreate/properties/url"),
            json!({"type": "string", "pattern": DRAIN_URL}),
        );
        set(
            doc,
            &format!("{s}/LogSessionCreate/properties/lines"),
            json!({"type": ["integer", "null"], "minimum": 0, "maximum": i64::MAX, "description": "Lines of history (default 100, at most 1,500)."}),
        );
        set(
            doc,
            &format!("{s}/LogSessionCreate/properties/source"),
            json!({"enum": ["app", "heroku", "", null]}),
        );
        set(
            doc,
            &format!("{s}/LogSessionCreate/properties/dyno"),
            json!({"type": ["string", "null"], "pattern": LOG_DYNO, "description": "A dyno (`web.1`), a process type (`web`) or `router`."}),
        );
        set(
            doc,
            &format!("{s}/ReleaseCreate/properties/release"),
            json!({"type": "string", "pattern": RELEASE_REF}),
        );
        set(
            doc,
            &format!("{s}/BuildpackUpdate"),
            json!({
            "type": "object", "required": ["buildpack"],
            "properties": {"buildpack": {"type": "string", "pattern": r"\S"}}}),
        );
        set(
            doc,
            &format!("{s}/Seconds"),
            json!({
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": 315_360_000},
                      {"type": "string", "pattern": SECONDS_TEXT}],
            "description": "A number of seconds, as a JSON number or a string of digits."}),
        );
        set(
            doc,
            &format!("{s}/OAuthAuthorizationCreate/properties/scope"),
            json!({"type": ["array", "null"], "items": {"enum": ["global"]}}),
        );
        let sizes = json!({"enum": crate::formation::SIZES.iter().map(|s| Value::from(*s)).chain([Value::Null]).collect::<Vec<_>>(),
                           "description": "A dyno size (in any case)."});
        set(
            doc,
            &format!("{s}/FormationUpdate/properties/size"),
            sizes.clone(),
        );
        set(
            doc,
            &format!("{s}/FormationTypeUpdate/properties/size"),
            sizes,
        );
        set(
            doc,
            &format!("{s}/FormationBatchUpdate/properties/updates/minItems"),
            json!(1),
        );
        set(
            doc,
            &format!("{s}/BuildpackInstallationsUpdate/properties/updates/maxItems"),
            json!(paas_core::buildpacks::MAX_BUILDPACKS),
        );
        set(
            doc,
            &format!("{s}/QuantityChange"),
            json!({
            "oneOf": [{"type": "integer", "minimum": 0, "maximum": 100},
                      {"type": "string", "pattern": QUANTITY_TEXT}],
            "description": "A quantity (0 to 100, a number or a numeric string), or a change of the current one (\"+1\", \"-2\")"}),
        );
        for path in [
            "/paths/~1apps~1{app}~1releases~1{release}/get/parameters",
            "/paths/~1apps~1{app}~1releases~1{release}~1config-vars/get/parameters",
        ] {
            if let Some(params) = doc.pointer_mut(path).and_then(Value::as_array_mut) {
                for p in params.iter_mut().filter(|p| p["name"] == "release") {
                    p["schema"] = json!({"type": "string", "pattern": RELEASE_REF});
                }
            }
        }
        set(
            doc,
            &format!("{s}/BuildpackUpdate/properties/buildpack"),
            json!({
            "type": "string", "pattern": BUILDPACK,
            "description": "A bundled buildpack (`heroku/python`), a git URL or an absolute path on the paas server."}),
        );
        // A certificate no schema can describe: a working example (a self-signed
        // certificate for www.example.com and its key, made for this document only).
        set(
            doc,
            &format!("{s}/SniEndpointCreate/examples"),
            json!([{
            "certificate_chain": include_str!("openapi_example/cert.pem"),
            "private_key": include_str!("openapi_example/key.pem")}]),
        );
        set(
            doc,
            "/paths/~1apps~1{app}~1config-vars/patch/requestBody/content/application~1json/schema",
            json!({
            "type": "object", "propertyNames": config_key_names(),
            "additionalProperties": {"type": ["string", "null"], "maxLength": 32768}}),
        );
    }
}

/// The generated document with [`rules`] written in, as served (utoipa's own types
/// cannot hold every JSON Schema keyword the rules use, such as `not`).
pub(crate) fn with_core_rules(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut json = serde_json::to_value(doc).expect("the OpenAPI document serializes");
    rules::apply(&mut json);
    json
}

#[cfg(test)]
mod tests {
    use super::rules;

    /// Every enum value the description offers is one the parser takes (the patterns are
    /// held to their parsers by `scripts/fuzz-api.sh`, which has a regex engine).
    #[test]
    fn every_core_rule_agrees_with_its_parser() {
        for name in rules::plan_names() {
            assert!(
                paas_core::addons::parse_service_plan(&name, None).is_ok(),
                "{name} is offered but refused"
            );
        }
        for name in rules::SERVICE_NAMES {
            assert!(paas_core::addons::Service::parse(name).is_ok(), "{name}");
        }
        let doc = crate::openapi_json();
        let plan = &doc["components"]["schemas"]["AddonCreate"]["properties"]["plan"];
        assert!(plan["properties"]["name"]["enum"].as_array().unwrap().len() > 6);
        let name = &doc["paths"]["/apps/{app}/dynos/{name}"]["delete"]["parameters"][1];
        assert!(name["schema"]["pattern"].is_string(), "{name}");
    }
}
