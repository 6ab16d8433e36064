//! Detection order and each language's version rules, through the public API.

use super::*;

fn files(list: &[(&str, &str)]) -> SourceFiles {
    let mut f = SourceFiles::default();
    for (name, text) in list {
        f.add_text(name, (*text).to_owned());
    }
    f
}

fn order() -> Vec<String> {
    [
        "ruby", "python", "nodejs", "java", "php", "go", "static", "procfile",
    ]
    .map(String::from)
    .to_vec()
}

fn resolved(lang: Language, list: &[(&str, &str)]) -> Result<(String, String), String> {
    resolve(lang, &files(list))
        .map(|r| r.map(|r| (r.line.to_owned(), r.source)).unwrap_or_default())
        .map_err(|e| e.0)
}

#[test]
fn detection_follows_the_order() {
    let f = files(&[("Gemfile", ""), ("package.json", "{}")]);
    assert_eq!(detect(&order(), &f), Some(Language::Ruby));
    let f = files(&[("go.mod", ""), ("Procfile", "")]);
    assert_eq!(detect(&order(), &f), Some(Language::Go));
    let mut f = SourceFiles::default();
    f.add_path("public/index.html");
    assert_eq!(detect(&order(), &f), Some(Language::Static));
    assert!(f.has_dir("public"));
    assert!(!f.has_dir("pub"));
    assert_eq!(detect(&order(), &SourceFiles::default()), None);
}

#[test]
fn go_versions_come_from_go_mod() {
    let go = |t: &str| resolved(Language::Go, &[("go.mod", t)]);
    assert_eq!(
        go("module x\n\ngo 1.25.0\n"),
        Ok(("1.25".into(), "go.mod".into()))
    );
    assert_eq!(
        go("module x\ngo 1.24\ntoolchain go1.26.2\n"),
        Ok(("1.26".into(), "go.mod (toolchain)".into()))
    );
    assert_eq!(
        go("// +heroku goVersion go1.27\nmodule x\ngo 1.24\n"),
        Ok(("1.27".into(), "go.mod (// +heroku goVersion)".into()))
    );
    assert_eq!(go("module x\n"), Ok(("1.24".into(), "default".into())));
    let refused = go("module x\ngo 1.21\n").unwrap_err();
    assert!(
        refused.contains(
            "Go 1.21 isn't available (requested in go.mod); this platform offers Go 1.24, 1.25, 1.26 and 1.27"
        ),
        "{refused}"
    );
    // 1.2 is not 1.24's line.
    assert!(go("module x\ngo 1.2\n").is_err());
}

#[test]
fn java_versions_come_from_system_properties() {
    let java = |t: &str| resolved(Language::Java, &[("system.properties", t)]);
    assert_eq!(
        java("java.runtime.version=25\n"),
        Ok(("25".into(), "system.properties".into()))
    );
    assert_eq!(java("java.runtime.version = 21.0.4\n").unwrap().0, "21");
    assert_eq!(java("maven.version=3.9\n").unwrap().1, "default");
    let refused = java("java.runtime.version=1.8").unwrap_err();
    assert!(
        refused.starts_with("Java 1.8 isn't available") && refused.contains("Java 21 and 25"),
        "{refused}"
    );
}

#[test]
fn ruby_versions_come_from_the_lockfile_then_the_gemfile() {
    let lock = "GEM\n  specs:\n\nRUBY VERSION\n   ruby 3.3.8p144\n\nBUNDLED WITH\n   2.6.7\n";
    assert_eq!(
        resolved(
            Language::Ruby,
            &[("Gemfile", "ruby '3.4.1'\n"), ("Gemfile.lock", lock)]
        ),
        Ok(("3.3".into(), "Gemfile.lock".into()))
    );
    assert_eq!(
        resolved(
            Language::Ruby,
            &[("Gemfile", "source 'x'\nruby \"~> 3.3.0\"\n")]
        ),
        Ok(("3.3".into(), "Gemfile".into()))
    );
    let refused = resolved(Language::Ruby, &[("Gemfile", "ruby \"3.4.1\"\n")]).unwrap_err();
    assert!(
        refused.starts_with(
            "Ruby 3.4.1 isn't available (requested in Gemfile); this platform offers Ruby 3.3"
        ),
        "{refused}"
    );
}

#[test]
fn php_versions_are_composer_constraints() {
    let php = |c: &str| {
        resolved(
            Language::Php,
            &[(
                "composer.json",
                &format!(r#"{{"require": {{"php": "{c}"}}}}"#),
            )],
        )
    };
    for ok in [
        "^8.2",
        ">=8.1",
        "8.4.*",
        "~8.4.0",
        "^7.4 || ^8.0",
        ">=8.0 <8.5",
        "*",
    ] {
        assert_eq!(php(ok).map(|r| r.0), Ok("8.4".into()), "{ok}");
    }
    for refused in ["~8.3.0", "^7.4", ">=8.5", "8.3.*", "<8.4"] {
        let e = php(refused).unwrap_err();
        assert!(e.contains("this platform offers PHP 8.4"), "{refused}: {e}");
    }
    assert_eq!(
        resolved(Language::Php, &[("index.php", "")]).unwrap().1,
        "default"
    );
}

#[test]
fn python_versions_follow_herokus_order() {
    assert_eq!(
        resolved(
            Language::Python,
            &[
                ("runtime.txt", "python-3.13.5\n"),
                (".python-version", "3.14")
            ]
        ),
        Ok(("3.13".into(), "runtime.txt".into()))
    );
    assert_eq!(
        resolved(Language::Python, &[(".python-version", "# pin\n3.14\n")]),
        Ok(("3.14".into(), ".python-version".into()))
    );
    assert_eq!(
        resolved(
            Language::Python,
            &[(
                "Pipfile.lock",
                r#"{"_meta": {"requires": {"python_version": "3.14"}}}"#
            )]
        ),
        Ok(("3.14".into(), "Pipfile.lock".into()))
    );
    assert_eq!(
        resolved(Language::Python, &[(".python-version", "3.9")]),
        Err("Python 3.9 isn't available (requested in .python-version); this platform offers Python 3.13 and 3.14. Change .python-version to one of those.".into())
    );
    // 3.1 is not 3.13.
    assert!(resolved(Language::Python, &[(".python-version", "3.1")]).is_err());
}

#[test]
fn python_keeps_the_last_builds_line_when_nothing_asks() {
    let after = |list: &[(&str, &str)], last| {
        resolve_after(Language::Python, &files(list), last).map(|r| r.map(|r| (r.line, r.source)))
    };
    assert_eq!(
        after(&[("requirements.txt", "")], Some("3.14")),
        Ok(Some(("3.14", "the app's last build".to_owned())))
    );
    // A request in the source wins; a line no longer offered falls to the default.
    assert_eq!(
        after(&[(".python-version", "3.13")], Some("3.14")),
        Ok(Some(("3.13", ".python-version".to_owned())))
    );
    assert_eq!(
        after(&[("requirements.txt", "")], Some("3.9")),
        Ok(Some(("3.13", "default".to_owned())))
    );
    // Only Python is sticky (Heroku's Node.js takes engines.node or its default).
    assert_eq!(
        resolve_after(
            Language::Nodejs,
            &files(&[("package.json", "{}")]),
            Some("24")
        )
        .map(|r| r.map(|r| r.line)),
        Ok(Some("20"))
    );
}

#[test]
fn node_versions_are_semver_ranges() {
    let node = |r: &str| {
        resolved(
            Language::Nodejs,
            &[(
                "package.json",
                &format!(r#"{{"engines": {{"node": "{r}"}}}}"#),
            )],
        )
    };
    for (range, line) in [
        ("20.x", "20"),
        ("24.x", "24"),
        (">=18", "24"),
        ("^20.10.0", "20"),
        ("~24.1", "24"),
        ("18 || 20", "20"),
        (">= 20 < 24", "22"),
        ("22.x", "22"),
        ("^22.11.0", "22"),
        ("20.0.0 - 24.0.0", "24"),
        ("*", "24"),
    ] {
        assert_eq!(node(range).map(|r| r.0), Ok(line.into()), "{range}");
    }
    for range in ["23.x", "^18", ">=25", "<20"] {
        let e = node(range).unwrap_err();
        assert!(
            e.contains("this platform offers Node.js 20, 22 and 24"),
            "{range}: {e}"
        );
    }
}

#[test]
fn stack_lines_need_no_image() {
    let python = resolve(Language::Python, &SourceFiles::default())
        .unwrap()
        .unwrap();
    assert_eq!(python.image(STACK_RUNTIMES), None);
    let go = resolve(Language::Go, &SourceFiles::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        go.image(STACK_RUNTIMES).as_deref(),
        Some("paas/runtime_go:1.24")
    );
    let all: Vec<String> = all_runtime_images()
        .iter()
        .filter_map(|r| r.image(STACK_RUNTIMES))
        .collect();
    assert!(
        all.contains(&"paas/runtime_python:3.14".to_owned()),
        "{all:?}"
    );
    assert!(!all.contains(&"paas/runtime_python:3.13".to_owned()));
}
