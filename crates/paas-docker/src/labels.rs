//! The label schema: every `paas.*` key paas writes on Docker objects, and the only code
//! that encodes or decodes them.
//!
//! Labels are the record of what runs: a restarted paasd reads back each dyno's identity
//! from them, so they are written once here ([`dyno`], [`one_off`], [`network`]) and
//! decoded once here ([`decode_dyno`], [`decode_one_off`]) into typed values; no other
//! module names a key. [`filters`] builds the list filters that select this
//! installation's objects of one kind.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paas_core::{AppName, DynoIdentity, DynoName, ReleaseVersion};
use uuid::Uuid;

pub const MANAGED: &str = "paas.managed";
pub const KIND: &str = "paas.kind";
pub const INSTANCE: &str = "paas.instance";
pub const APP: &str = "paas.app";
pub const APP_NAME: &str = "paas.app_name";
pub const RELEASE: &str = "paas.release";
pub const VERSION: &str = "paas.version";
pub const TYPE: &str = "paas.type";
pub const INDEX: &str = "paas.index";
pub const GENERATION: &str = "paas.generation";
pub const COMMAND: &str = "paas.command";
pub const HEALTH_PATH: &str = "paas.health_path";
/// One-offs: the dyno's name (`run.7`) and whether nobody is attached.
pub const DYNO: &str = "paas.dyno";
pub const DETACHED: &str = "paas.detached";
/// Networks: when made (Unix seconds).
pub const CREATED: &str = "paas.created";
/// Builds and images: the build and commit.
pub const BUILD: &str = "paas.build";
pub const COMMIT: &str = "paas.commit";

/// Add-ons: the add-on's id and name, and its service (`postgresql`, `redis`).
pub const ADDON: &str = "paas.addon";
pub const ADDON_NAME: &str = "paas.addon_name";
pub const SERVICE: &str = "paas.service";

/// What a labelled container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A dyno of the formation, run by the supervisor.
    Formation,
    /// `paas run`, `heroku run`, the release phase.
    OneOff,
    /// A buildpack build.
    Build,
    /// An add-on's service (Postgres, Redis), run by the add-on supervisor; its volume
    /// carries the same labels.
    Addon,
    /// A Swarm job that removes a deleted app's images from every node.
    ImageCollector,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Formation => "formation",
            Kind::OneOff => "one_off",
            Kind::Build => "build",
            Kind::Addon => "addon",
            Kind::ImageCollector => "image_collector",
        }
    }
}

type Labels = HashMap<String, String>;

fn base(instance: &str, kind: Option<Kind>) -> Labels {
    let mut labels = HashMap::from([
        (MANAGED.to_owned(), "1".to_owned()),
        (INSTANCE.to_owned(), instance.to_owned()),
    ]);
    if let Some(kind) = kind {
        labels.insert(KIND.to_owned(), kind.as_str().to_owned());
    }
    labels
}

/// The labels of a formation dyno.
pub fn dyno(
    instance: &str,
    dyno: &DynoIdentity,
    command: &str,
    health_path: Option<&str>,
) -> Labels {
    let mut labels = base(instance, Some(Kind::Formation));
    labels.extend([
        (APP.to_owned(), dyno.app_id.to_string()),
        (APP_NAME.to_owned(), dyno.app_name.to_string()),
        (RELEASE.to_owned(), dyno.release_id.to_string()),
        (VERSION.to_owned(), dyno.version.get().to_string()),
        (TYPE.to_owned(), dyno.name.process_type.to_string()),
        (INDEX.to_owned(), dyno.name.index.to_string()),
        (GENERATION.to_owned(), dyno.generation.to_string()),
        (COMMAND.to_owned(), command.to_owned()),
    ]);
    if let Some(path) = health_path {
        labels.insert(HEALTH_PATH.to_owned(), path.to_owned());
    }
    labels
}

/// Whether a container's labels say it is the dyno `ours` describes: same installation,
/// app, release, slot and restart generation.
pub fn is_same_dyno(theirs: &Labels, ours: &Labels) -> bool {
    [KIND, INSTANCE, APP, RELEASE, TYPE, INDEX, GENERATION]
        .iter()
        .all(|k| theirs.get(*k).is_some() && theirs.get(*k) == ours.get(*k))
}

/// A formation dyno's identity from its labels; `None` when they do not make one (a
/// container paas did not label, or labelled by a version that wrote other keys).
pub fn decode_dyno(labels: &Labels) -> Option<DynoIdentity> {
    let get = |k: &str| labels.get(k).map(String::as_str);
    Some(DynoIdentity {
        app_id: get(APP)?.parse().ok()?,
        app_name: AppName::parse(get(APP_NAME)?).ok()?,
        release_id: get(RELEASE)?.parse().ok()?,
        version: ReleaseVersion::new(get(VERSION)?.parse().ok()?).ok()?,
        name: DynoName::parse(&format!("{}.{}", get(TYPE)?, get(INDEX)?)).ok()?,
        generation: get(GENERATION).and_then(|g| g.parse().ok()).unwrap_or(0),
    })
}

/// The app and dyno name of any dyno container, formation or one-off: all the log
/// collector needs to put its output in the right stream.
pub fn decode_printer(labels: &Labels) -> Option<(AppName, DynoName)> {
    let get = |k: &str| labels.get(k).map(String::as_str);
    let app = AppName::parse(get(APP_NAME)?).ok()?;
    let name = match get(DYNO) {
        Some(one_off) => DynoName::parse(one_off).ok()?,
        None => DynoName::parse(&format!("{}.{}", get(TYPE)?, get(INDEX)?)).ok()?,
    };
    Some((app, name))
}

/// What a one-off dyno is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffLabels {
    pub app_name: AppName,
    pub name: DynoName,
    pub release_id: Option<Uuid>,
    pub version: Option<ReleaseVersion>,
    pub command: String,
    pub detached: bool,
}

/// The labels of a one-off dyno.
pub fn one_off(instance: &str, one_off: &OneOffLabels) -> Labels {
    let mut labels = base(instance, Some(Kind::OneOff));
    labels.extend([
        (APP_NAME.to_owned(), one_off.app_name.to_string()),
        (DYNO.to_owned(), one_off.name.to_string()),
        (COMMAND.to_owned(), one_off.command.clone()),
        (DETACHED.to_owned(), one_off.detached.to_string()),
    ]);
    if let Some(release) = one_off.release_id {
        labels.insert(RELEASE.to_owned(), release.to_string());
    }
    if let Some(version) = one_off.version {
        labels.insert(VERSION.to_owned(), version.get().to_string());
    }
    labels
}

pub fn decode_one_off(labels: &Labels) -> Option<OneOffLabels> {
    let get = |k: &str| labels.get(k).map(String::as_str);
    Some(OneOffLabels {
        app_name: AppName::parse(get(APP_NAME)?).ok()?,
        name: DynoName::parse(get(DYNO)?).ok()?,
        release_id: get(RELEASE).and_then(|r| r.parse().ok()),
        version: get(VERSION)
            .and_then(|v| v.parse().ok())
            .and_then(|v| ReleaseVersion::new(v).ok()),
        command: get(COMMAND).unwrap_or_default().to_owned(),
        detached: get(DETACHED) == Some("true"),
    })
}

/// The labels of a build container: this installation's, so that a restarted paasd finds
/// the ones it left behind, and the app and build it runs.
pub fn build(instance: &str, app: &str, build_id: &str) -> Labels {
    let mut labels = base(instance, Some(Kind::Build));
    labels.extend([
        (APP_NAME.to_owned(), app.to_owned()),
        (BUILD.to_owned(), build_id.to_owned()),
    ]);
    labels
}

/// The labels of the Swarm job that removes deleted app `app`'s images from every node.
pub fn image_collector(instance: &str, app: &AppName) -> Labels {
    let mut labels = base(instance, Some(Kind::ImageCollector));
    labels.insert(APP_NAME.to_owned(), app.to_string());
    labels
}

/// The labels of an app's image: the app, build and commit it was built from.
pub fn image(app: &str, build_id: &str, commit: &str) -> Labels {
    HashMap::from([
        (APP_NAME.to_owned(), app.to_owned()),
        (BUILD.to_owned(), build_id.to_owned()),
        (COMMIT.to_owned(), commit.to_owned()),
    ])
}

/// The stack image a runtime image was made on (its id): the image is remade when the
/// stack changes.
pub const RUNTIME_STACK_ID: &str = "paas.stack.id";
pub const RUNTIME: &str = "paas.runtime";
pub const RUNTIME_LINE: &str = "paas.runtime.line";

/// The labels of a runtime image (`paas/runtime_go:1.25`): its runtime and the stack image
/// it was made on.
pub fn runtime_image(kind: &str, line: &str, stack_id: &str) -> Labels {
    HashMap::from([
        (RUNTIME.to_owned(), kind.to_owned()),
        (RUNTIME_LINE.to_owned(), line.to_owned()),
        (RUNTIME_STACK_ID.to_owned(), stack_id.to_owned()),
    ])
}

/// Whether a runtime image was made on the stack image `stack_id`.
pub fn is_made_on(labels: &Labels, stack_id: &str) -> bool {
    labels
        .get(RUNTIME_STACK_ID)
        .is_some_and(|id| id == stack_id)
}

/// The labels of an add-on's container and volume.
pub fn addon(instance: &str, addon_id: Uuid, name: &str, service: &str) -> Labels {
    let mut labels = base(instance, Some(Kind::Addon));
    labels.extend([
        (ADDON.to_owned(), addon_id.to_string()),
        (ADDON_NAME.to_owned(), name.to_owned()),
        (SERVICE.to_owned(), service.to_owned()),
    ]);
    labels
}

/// The add-on and its service, of an add-on's container: what the log collector needs.
pub fn decode_addon_printer(labels: &Labels) -> Option<(Uuid, paas_core::addons::Service)> {
    let service = paas_core::addons::Service::parse(labels.get(SERVICE)?).ok()?;
    Some((decode_addon(labels)?, service))
}

/// The add-on a container or volume belongs to.
pub fn decode_addon(labels: &Labels) -> Option<Uuid> {
    labels.get(ADDON)?.parse().ok()
}

/// The labels of an add-on's service image (`paas/addon_postgresql:17`): made on the
/// stack image `stack_id`, remade when the stack changes ([`is_made_on`]).
pub fn addon_image(service: &str, stack_id: &str) -> Labels {
    HashMap::from([
        (SERVICE.to_owned(), service.to_owned()),
        (RUNTIME_STACK_ID.to_owned(), stack_id.to_owned()),
    ])
}

/// The labels of an app's network made now (its creation time in seconds, which the
/// sweep of deleted apps' networks reads back).
pub fn network(instance: &str, app_name: &str) -> Labels {
    let created_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut labels = base(instance, None);
    labels.extend([
        (APP_NAME.to_owned(), app_name.to_owned()),
        (CREATED.to_owned(), created_secs.to_string()),
    ]);
    labels
}

/// `(app name, created)` of a network's labels.
pub fn decode_network(labels: &Labels) -> Option<(String, Option<u64>)> {
    Some((
        labels.get(APP_NAME)?.clone(),
        labels.get(CREATED).and_then(|c| c.parse().ok()),
    ))
}

/// Docker list filters for this installation's objects: of `kind` (any when `None`),
/// and carrying every `extra` label value.
pub fn filters(
    instance: &str,
    kind: Option<Kind>,
    extra: &[(&str, &str)],
) -> HashMap<String, Vec<String>> {
    let mut label = vec![format!("{MANAGED}=1"), format!("{INSTANCE}={instance}")];
    if let Some(kind) = kind {
        label.push(format!("{KIND}={}", kind.as_str()));
    }
    label.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
    HashMap::from([("label".to_owned(), label)])
}

/// Whether `labels` say their object is this installation's, of `kind`: what
/// [`filters`] selects, for objects the engine cannot filter (an event's service).
pub fn is_of(labels: &Labels, instance: &str, kind: Kind) -> bool {
    labels.get(MANAGED).map(String::as_str) == Some("1")
        && labels.get(INSTANCE).map(String::as_str) == Some(instance)
        && labels.get(KIND).map(String::as_str) == Some(kind.as_str())
}

/// A time as Docker reports it; Docker says "never" with year 1 (`0001-01-01T…`).
pub fn docker_time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    if raw.starts_with("0001") {
        return None;
    }
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> DynoIdentity {
        DynoIdentity {
            app_id: Uuid::from_u128(7),
            app_name: AppName::parse("shop").unwrap(),
            release_id: Uuid::from_u128(9),
            version: ReleaseVersion::new(3).unwrap(),
            name: DynoName::parse("web.2").unwrap(),
            generation: 1,
        }
    }

    #[test]
    fn a_dyno_record_round_trips_through_its_labels() {
        let labels = dyno("i1", &identity(), "gunicorn app", Some("/up"));
        assert_eq!(decode_dyno(&labels), Some(identity()));
        assert_eq!(labels[HEALTH_PATH], "/up");
        assert!(is_same_dyno(&labels, &labels));
        let mut other = labels.clone();
        other.insert(INSTANCE.to_owned(), "i2".to_owned());
        assert!(!is_same_dyno(&other, &labels));
    }

    #[test]
    fn labels_that_make_no_record_decode_to_nothing() {
        let mut labels = dyno("i1", &identity(), "x", None);
        labels.insert(RELEASE.to_owned(), "not-a-uuid".to_owned());
        assert_eq!(decode_dyno(&labels), None);
    }

    #[test]
    fn a_one_off_round_trips_through_its_labels() {
        let o = OneOffLabels {
            app_name: AppName::parse("shop").unwrap(),
            name: DynoName::parse("run.4").unwrap(),
            release_id: Some(Uuid::from_u128(9)),
            version: ReleaseVersion::new(2).ok(),
            command: "bash".into(),
            detached: true,
        };
        assert_eq!(decode_one_off(&one_off("i1", &o)), Some(o));
    }

    #[test]
    fn an_addon_round_trips_through_its_labels() {
        let id = Uuid::from_u128(5);
        let labels = addon("i1", id, "postgresql-curved-12345", "postgresql");
        assert_eq!(decode_addon(&labels), Some(id));
        assert_eq!(
            decode_addon_printer(&labels),
            Some((id, paas_core::addons::Service::Postgresql))
        );
        assert_eq!(decode_printer(&labels), None);
        assert_eq!(labels[KIND], "addon");
        assert!(is_made_on(&addon_image("redis", "sha256:1"), "sha256:1"));
    }

    #[test]
    fn dockers_year_one_means_never() {
        assert_eq!(docker_time(Some("0001-01-01T00:00:00Z")), None);
        assert_eq!(
            docker_time(Some("2026-12-01T10:00:00.5Z")).map(|t| t.timestamp()),
            Some(1_796_119_200)
        );
    }
}
