//! A paasd process with its own data dir, embedded Postgres, ports, token and
//! installation label, and the ways tests talk to it: the API, `paas`, `git push`, the
//! router.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{binary, free_port, workspace_root};

/// A paasd process with its own data dir and embedded Postgres, stopped on drop.
pub struct Paasd {
    /// This paasd's `PAAS_INSTANCE`: its dynos' label, so parallel tests never touch
    /// each other's containers.
    pub instance: String,
    pub data: tempfile::TempDir,
    pub port: u16,
    pub router_port: u16,
    env: Vec<(String, String)>,
    pub token: String,
    child: Child,
}

impl Paasd {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A paasd with extra environment (`PAAS_BUILD_MEMORY`, …).
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_in(Self::data_dir(), env).await
    }

    /// A fresh data dir for a paasd (`start_in`), removed on drop.
    pub fn data_dir() -> tempfile::TempDir {
        // Under root the embedded cluster runs as `postgres`, who must enter this dir.
        crate::data_dir("paas-e2e-")
    }

    /// A paasd on `data` (made by [`Paasd::data_dir`], possibly restored into).
    pub async fn start_in(data: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let instance = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (port, router_port) = (free_port(), free_port());
        let child = Self::spawn(data.path(), port, router_port, &instance, &env);
        let mut paasd = Self {
            instance,
            data,
            port,
            router_port,
            env,
            token: String::new(),
            child,
        };
        // A port picked free can be taken (as another connection's source port) before
        // paasd binds it; paasd then exits at once, and gets other ports.
        for attempt in 1.. {
            match paasd.wait_healthy().await {
                Ok(()) => break,
                Err(why) if attempt < 3 => {
                    eprintln!(
                        "paasd did not start (attempt {attempt}), retrying on other ports: {why}"
                    );
                    paasd.port = free_port();
                    paasd.router_port = free_port();
                    paasd.child = Self::spawn(
                        paasd.data.path(),
                        paasd.port,
                        paasd.router_port,
                        &paasd.instance,
                        &paasd.env,
                    );
                }
                Err(why) => panic!("{why}"),
            }
        }
        let port = paasd.port;
        let out = Self::command(paasd.data.path(), port)
            .env("PAAS_INSTANCE", &paasd.instance)
            .args(["tokens", "create", "--name", "e2e"])
            .output()
            .expect("paasd tokens create");
        assert!(
            out.status.success(),
            "tokens create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        paasd.token = String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned();
        paasd
    }

    fn spawn(
        data: &Path,
        port: u16,
        router_port: u16,
        instance: &str,
        env: &[(String, String)],
    ) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("paasd.log"))
            .expect("log file");
        Self::command(data, port)
            .env("PAAS_INSTANCE", instance)
            .env("PAAS_ROUTER_ADDR", format!("127.0.0.1:{router_port}"))
            .env("PAAS_DYNO_GRACE", "3")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn paasd")
    }

    /// `kill -9` paasd and start it again on the same data, instance and ports.
    pub async fn sigkill_and_restart(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
        let _ = self.child.wait();
        self.child = Self::spawn(
            self.data.path(),
            self.port,
            self.router_port,
            &self.instance,
            &self.env,
        );
        if let Err(why) = self.wait_healthy().await {
            panic!("{why}");
        }
    }

    fn command(data: &Path, port: u16) -> Command {
        let mut command = Command::new(binary("paasd"));
        command
            .env_remove("DATABASE_URL")
            .env("PAAS_DATA_DIR", data)
            .env("PAAS_API_ADDR", format!("127.0.0.1:{port}"))
            .env("PAAS_ROUTER_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("PAAS_LOG_FORMAT", "json")
            // Parallel paasds must not share the default TLS port.
            .env("PAAS_TLS_ADDR", "127.0.0.1:0")
            .env("PAAS_ROUTER_TLS_ADDR", "127.0.0.1:0")
            // No test reaches a public CA; the ACME tests bring pebble.
            .env("PAAS_ACME_DIRECTORY", "off")
            .env("PAAS_BUILDPACKS_DIR", workspace_root().join("buildpacks"))
            // Builds share two cores with the tests.
            .env("PAAS_BUILD_CPUS", "1")
            // As a service manager starts it: nothing may depend on the directory.
            .current_dir("/")
            .stdin(Stdio::null());
        command
    }

    /// Runs `paasd ARGS` (a subcommand: `tokens list`, …) on this paasd's data.
    pub fn paasd(&self, args: &[&str]) -> Output {
        Self::paasd_on(self.data.path(), &self.instance, args)
    }

    /// Runs `paasd ARGS` on the data dir `data` (no paasd need run there).
    pub fn paasd_on(data: &Path, instance: &str, args: &[&str]) -> Output {
        Self::command(data, free_port())
            .env("PAAS_INSTANCE", instance)
            .args(args)
            .output()
            .expect("run paasd")
    }

    /// Waits for `/healthz`; `Err` when paasd exited instead.
    async fn wait_healthy(&mut self) -> Result<(), String> {
        let url = format!("{}/healthz", self.url());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Err(format!("paasd exited with {status}: {}", self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "paasd not healthy in 60 s: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("paasd.log")).unwrap_or_default()
    }

    /// The store on paasd's own embedded cluster, for seeding what later issues' parts
    /// (the builder) would record.
    pub async fn store(&self) -> paas_store::Store {
        let options = sqlx::postgres::PgConnectOptions::new()
            .socket(self.data.path().join("run"))
            .username("postgres")
            .database("paas");
        paas_store::Store::connect_lazy(options, 2)
    }

    /// `paas ARGS` in `cwd` against this paasd, with `cwd` as its home (no one's own
    /// settings) and no colours, not yet run.
    pub fn paas_command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(binary("paas"));
        command
            .args(args)
            .current_dir(cwd)
            .env("PAAS_API_URL", self.url())
            .env("PAAS_API_TOKEN", &self.token)
            .env("HOME", cwd)
            .env("NO_COLOR", "1");
        command
    }

    /// Runs `paas ARGS` in `cwd` against this paasd.
    pub fn paas(&self, cwd: &Path, args: &[&str]) -> Output {
        self.paas_command(cwd, args)
            .stdin(Stdio::null())
            .output()
            .expect("run paas")
    }
}

impl Paasd {
    /// [`Paasd::paas`] with `input` on its stdin (`echo 'select 1' | paas pg:psql`).
    pub fn paas_with_stdin(&self, cwd: &Path, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .paas_command(cwd, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run paas");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input.as_bytes())
            .expect("write paas's stdin");
        drop(stdin);
        child.wait_with_output().expect("paas's output")
    }
}

impl Drop for Paasd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        // paasd leaves dynos (and their networks) running on purpose; the test does not.
        crate::docker::remove_instance(&self.instance);
    }
}

impl Paasd {
    /// Polls the dynos API until `done` holds (panics after `secs`).
    pub async fn wait_dynos(
        &self,
        app: &str,
        secs: u64,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let dynos = self
                .api(reqwest::Method::GET, &format!("/apps/{app}/dynos"), None)
                .await;
            let dynos = dynos.as_array().cloned().unwrap_or_default();
            if done(&dynos) {
                return dynos;
            }
            assert!(
                Instant::now() < deadline,
                "dynos of {app} did not get there in {secs}s: {dynos:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// GET / through paasd's router, as a visitor of `http://<app>.localhost/` would.
    pub async fn get_via_router(&self, app: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/", self.router_port))
            .header("host", format!("{app}.localhost"))
            .send()
            .await
            .expect("GET through the router");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// GET / from a running web dyno of `app` (straight to its container address).
    pub async fn get_from_web(&self, app: &str, dyno: &str) -> String {
        let out = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=paas.instance={}", self.instance),
                "--filter",
                &format!("label=paas.app_name={app}"),
            ])
            .output()
            .expect("docker ps");
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let inspect = Command::new("docker")
                .args(["inspect", "--format", "{{index .Config.Labels \"paas.type\"}}.{{index .Config.Labels \"paas.index\"}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id])
                .output()
                .expect("docker inspect");
            let text = String::from_utf8_lossy(&inspect.stdout).trim().to_owned();
            if let Some((_, ip)) = text.split_once(' ').filter(|(name, _)| *name == dyno) {
                return reqwest::get(format!("http://{ip}:5000/"))
                    .await
                    .expect("GET dyno")
                    .text()
                    .await
                    .expect("body");
            }
        }
        panic!("no running {dyno} for {app}");
    }
}

impl Paasd {
    /// `git push` of `refspec` to `app`, authenticated with the token as password.
    pub fn push(&self, dir: &Path, app: &str, refspec: &str) -> Output {
        self.push_with_token(dir, app, refspec, &self.token)
    }

    pub fn push_with_token(&self, dir: &Path, app: &str, refspec: &str, token: &str) -> Output {
        let url = format!("http://git:{token}@127.0.0.1:{}/{app}.git", self.port);
        Command::new("git")
            .args(["-c", "credential.helper=", "push", &url, refspec])
            .current_dir(dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .output()
            .expect("git push")
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("API request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    pub async fn create_app(&self, name: &str) {
        self.api(
            reqwest::Method::POST,
            "/apps",
            Some(serde_json::json!({ "name": name })),
        )
        .await;
    }
}
