//! Go, Ruby, Java and PHP fixtures on their runtime images; a code-only second push
//! reuses the image and the dependencies.

use super::{destroy, pushed, serves};
use crate::support::{self, Paasd, commit_all, fixture_repo};

struct Lang {
    app: &'static str,
    fixture: &'static str,
    /// The file the code-only second push edits, and the greeting in it.
    source: &'static str,
    greeting: &'static str,
    /// In the first push's output.
    first: &'static [&'static str],
    /// In the second push's output (the cache is used) ...
    second: &'static str,
    /// ... and not (nothing is installed again).
    not_second: &'static [&'static str],
    /// In the app's answer: the runtime it runs on.
    serves: &'static str,
}

const LANGS: &[Lang] = &[
    Lang {
        app: "golang",
        fixture: "go-httprouter",
        source: "main.go",
        greeting: "hello from go",
        first: &[
            "Go app detected",
            "Using Go 1.25.",
            "(from go.mod)",
            "-mod=vendor",
            "example.com/hello",
        ],
        second: "Reusing the Go build cache",
        not_second: &["go: downloading", "Making the"],
        serves: "go1.25.",
    },
    Lang {
        app: "ruby",
        fixture: "ruby-assets",
        source: "app.rb",
        greeting: "hello from ruby",
        first: &[
            "Ruby app detected",
            "Using Ruby 3.3.",
            "(from Gemfile.lock)",
            "Installing rake 13.2.1",
            "Gems in the groups 'development' and 'test' were not installed",
            "rake assets:precompile",
            "Compiled app/assets/app.css",
        ],
        second: "Reusing cached gems",
        not_second: &["Installing rake", "Making the"],
        serves: "rack_env=production bundle_without=development:test",
    },
    Lang {
        app: "java",
        fixture: "java-maven",
        source: "src/main/java/hello/Main.java",
        greeting: "hello from java",
        first: &[
            "Java app detected",
            "Using Java 21.",
            "(from system.properties)",
            "Using Maven 3.",
            "BUILD SUCCESS",
            "Runnable: target/hello-1.0.jar",
        ],
        second: "Reusing the cached Maven repository",
        not_second: &["Downloading from", "Making the"],
        serves: "hello again from java 21.",
    },
    Lang {
        app: "php",
        fixture: "php-nginx",
        source: "src/Greeting.php",
        greeting: "hello from php",
        first: &[
            "PHP app detected",
            "Using PHP 8.4.",
            "(from composer.json require.php)",
            "composer install",
            "heroku-php-nginx, heroku-php-apache2 installed",
        ],
        second: "Reusing cached dependencies",
        not_second: &["Installing dependencies", "Making the"],
        serves: "(fpm-fcgi)",
    },
];

#[tokio::test]
async fn go_ruby_java_and_php_apps_build_on_their_runtime_images_and_serve() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    for lang in LANGS {
        paasd.create_app(lang.app).await;
        let repo = fixture_repo(lang.fixture);
        let first = pushed(&paasd.push(repo.path(), lang.app, "main"));
        for wanted in lang.first {
            assert!(
                first.contains(wanted),
                "{}: no {wanted:?} in\n{first}",
                lang.app
            );
        }
        assert!(first.contains("Released v2"), "{first}");
        serves(&paasd, lang.app, lang.greeting).await;

        // The app's image is its runtime image plus the app.
        let store = paasd.store().await;
        let id = store.app(lang.app).await.unwrap().app_id;
        let image = store.builds(id).await.unwrap()[0].image.clone().unwrap();
        let labels = support::in_image(&image, "cat /etc/os-release | head -n 1");
        assert!(labels.contains("Debian"), "{labels}");

        // A code-only change: the runtime image and the dependencies are reused.
        let path = repo.path().join(lang.source);
        let again = lang.greeting.replace("hello from", "hello again from");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(lang.greeting, &again);
        std::fs::write(&path, text).unwrap();
        commit_all(repo.path(), "one line");
        let second = pushed(&paasd.push(repo.path(), lang.app, "main"));
        assert!(second.contains("Released v3"), "{second}");
        assert!(
            second.contains(lang.second),
            "{}: the cache is not reused:\n{second}",
            lang.app
        );
        for unwanted in lang.not_second {
            assert!(
                !second.contains(unwanted),
                "{}: {unwanted:?} on a code-only push:\n{second}",
                lang.app
            );
        }
        let body = serves(&paasd, lang.app, &again).await;
        assert!(body.contains(lang.serves), "{}: {body}", lang.app);
        // One app's network and dynos at a time.
        destroy(&paasd, lang.app).await;
    }
}
