//! Recipes for every offered runtime, the archive's root, the runtimes of buildpack
//! lists, and the detect rules against the buildpacks' own `bin/detect`.

use super::recipe::{dockerfile, recipe};
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
    let own = runtimes_for(&order, &[bp("/srv/bp")], &app, None).unwrap_or_else(|e| panic!("{e}"));
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
        refused.starts_with("App not compatible with buildpack: heroku/go (it looks for go.mod)"),
        "{refused}"
    );
    // The last build's Python line, when nothing asks for one.
    let python =
        runtimes_for(&order, &[bp("python")], &app, Some("3.14")).unwrap_or_else(|e| panic!("{e}"));
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
