//! Store rows → Heroku v3 shapes.

use paas_store::{ApiToken, App, Build, Formation, Release, ReleaseStatus};
use paas_wire as wire;

use crate::ApiSettings;

/// paas has one account per token; the requester is shown as the owner of everything.
pub(crate) fn owner(token: &ApiToken, settings: &ApiSettings) -> wire::Owner {
    wire::Owner {
        id: token.token_id,
        email: email(&token.name, &settings.domain),
    }
}

/// A token's account as an email address, `<name>@<domain>`. A name may hold spaces
/// (`heroku login -i` names its token "Heroku CLI login from <host>"); those become
/// `-`, because the heroku CLI writes the email as the netrc `login`, where a space ends
/// the value and the entry no longer parses.
pub(crate) fn email(name: &str, domain: &str) -> String {
    let local: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{local}@{domain}")
}

/// The one stack apps build and run on.
pub(crate) const STACK: &str = "paas-stack";

pub(crate) fn app(app: &App, token: &ApiToken, settings: &ApiSettings) -> wire::App {
    let stack = wire::NamedRef {
        id: STACK.into(),
        name: STACK.into(),
    };
    wire::App {
        id: app.app_id,
        name: app.name.clone(),
        created_at: app.created_at,
        updated_at: app.updated_at,
        released_at: app.released_at,
        web_url: settings.web_url.for_app(&app.name),
        git_url: format!(
            "{}/{}.git",
            settings.public_url.trim_end_matches('/'),
            app.name
        ),
        owner: owner(token, settings),
        region: wire::NamedRef {
            id: "local".into(),
            name: "local".into(),
        },
        build_stack: stack.clone(),
        stack,
        buildpack_provided_description: None,
        maintenance: app.maintenance,
        archived_at: None,
        repo_size: None,
        slug_size: None,
        space: None,
        team: None,
        organization: None,
        internal_routing: None,
        acm: app.acm,
    }
}

pub(crate) fn release(r: &Release, token: &ApiToken, settings: &ApiSettings) -> wire::Release {
    wire::Release {
        id: r.release_id,
        version: r.version,
        description: r.description.clone(),
        status: r.status.to_string(),
        status_reason: r.status_reason.clone(),
        current: r.current,
        created_at: r.created_at,
        updated_at: r.updated_at,
        slug: r.build_id.map(|id| wire::IdRef { id }),
        user: owner(token, settings),
        app: wire::IdName {
            id: r.app_id,
            name: r.app_name.clone(),
        },
        addon_plan_names: Vec::new(),
        output_stream_url: None,
        // The store rolls back to any succeeded release.
        eligible_for_rollback: r.status == ReleaseStatus::Succeeded,
    }
}

pub(crate) fn formation(f: &Formation) -> wire::Formation {
    wire::Formation {
        id: f.formation_id,
        process_type: f.process_type.clone(),
        quantity: i64::from(f.quantity),
        size: f.size.clone(),
        command: f.command.clone(),
        app: wire::IdName {
            id: f.app_id,
            name: f.app_name.clone(),
        },
        created_at: f.created_at,
        updated_at: f.updated_at,
    }
}

pub(crate) fn build(
    b: &Build,
    app: &App,
    release: Option<uuid::Uuid>,
    token: &ApiToken,
    settings: &ApiSettings,
) -> wire::Build {
    wire::Build {
        id: b.build_id,
        status: b.status.to_string(),
        output_stream_url: Some(format!(
            "{}/apps/{}/builds/{}/output",
            settings.public_url.trim_end_matches('/'),
            app.name,
            b.build_id
        )),
        source_blob: wire::SourceBlob {
            url: None,
            version: b.source_version.clone(),
            checksum: None,
        },
        release: release.map(|id| wire::IdRef { id }),
        slug: b.image.as_ref().map(|_| wire::IdRef { id: b.build_id }),
        buildpacks: b
            .buildpacks
            .0
            .iter()
            .map(|url| wire::BuildpackRef {
                url: url.clone(),
                name: url.clone(),
            })
            .collect(),
        stack: "paas-stack".into(),
        user: owner(token, settings),
        app: wire::IdName {
            id: app.app_id,
            name: app.name.clone(),
        },
        created_at: b.created_at,
        updated_at: b.updated_at,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_name_with_spaces_makes_an_email_without_them() {
        assert_eq!(super::email("ci", "localhost"), "ci@localhost");
        assert_eq!(
            super::email("Heroku CLI login from vm", "example.com"),
            "Heroku-CLI-login-from-vm@example.com"
        );
    }
}
