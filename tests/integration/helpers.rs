//! Shared by the integration tests: the real app on a random port against a real mongod,
//! with a fresh database per test (dropped when the test's `TestApp` is dropped).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use orderdesk::{
    config::{CONFIG_FILE, Secret, Settings},
    domain::accounts::Role,
    startup::{self, Application, Background},
    storage::Store,
};

/// The mongod under test: `MONGODB_URI`, which `scripts/test` sets to a throwaway server.
pub fn mongodb_uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| {
        panic!("MONGODB_URI is not set: run ./scripts/test, which starts a throwaway mongod for the tests")
    })
}

/// Settings for a test: the file's defaults, this test's URI and database.
pub fn settings(uri: &str, database: &str) -> Settings {
    let mut s = Settings::load(std::path::Path::new(CONFIG_FILE)).expect("settings");
    s.mongodb_uri = uri.to_owned();
    s.database = database.to_owned();
    s
}

/// A database name no other test uses.
pub fn unique_db(prefix: &str) -> String {
    format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple())
}

pub struct TestApp {
    pub address: String,
    pub store: Store,
    /// Signed in as a support user (the session cookie is a default header).
    pub client: reqwest::Client,
    /// That session's cookie header value and CSRF token.
    pub cookie: String,
    pub csrf: String,
    drop_on_exit: bool,
}

/// A staff account `{role}@test.example` with a live session: the `Cookie` header value
/// and the session's CSRF token.
pub async fn signed_in(store: &Store, role: Role) -> (String, String) {
    signed_in_as(store, role, &format!("{role}@test.example")).await
}

/// [`signed_in`] for an account of the test's own naming.
pub async fn signed_in_as(store: &Store, role: Role, email: &str) -> (String, String) {
    use orderdesk::domain::accounts::{Email, NewPassword, password};
    let email = Email::parse(email).unwrap();
    let hash = password::hash(&NewPassword::parse("test password for staff").unwrap());
    store.upsert_staff(&email, role, &hash, chrono::Utc::now()).await.expect("staff account");
    let account = store.find_staff(&email).await.unwrap().unwrap();
    let (token, csrf) = (orderdesk::domain::tokens::random_token(), orderdesk::domain::tokens::random_token());
    let now = chrono::Utc::now();
    let later = now + chrono::Duration::hours(1);
    store
        .create_session(&orderdesk::domain::tokens::sha256_hex(&token), &account, &csrf, now, later, later)
        .await
        .expect("session");
    (format!("od_session={token}"), csrf)
}

/// A client that sends `cookie` with every request and follows no redirects when asked.
pub fn client_with(cookie: &str, follow_redirects: bool) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    let policy =
        if follow_redirects { reqwest::redirect::Policy::default() } else { reqwest::redirect::Policy::none() };
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .default_headers(headers)
        .redirect(policy)
        .build()
        .unwrap()
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.drop_on_exit {
            let database = self.store.database_name().to_owned();
            // Best effort, on a client of its own: the store's client lives on the test's
            // runtime, which this thread blocks while it waits here.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(client) = mongodb::Client::with_uri_str(mongodb_uri()).await {
                            let _ =
                                tokio::time::timeout(Duration::from_secs(5), client.database(&database).drop()).await;
                        }
                    });
                }
            })
            .join()
            .ok();
        }
    }
}

/// Spawns the whole app (the router `orderdesk serve` runs) on a random port.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(&mongodb_uri(), &unique_db("app"), true, |_| {}).await
}

/// The bootstrap API key the API tests use.
pub const TEST_KEY: &str = "test-bootstrap-key-0123456789abcdef";

/// The app with [`TEST_KEY`] accepted as the bootstrap API key.
pub async fn spawn_app_with_key() -> TestApp {
    spawn_app_on(&mongodb_uri(), &unique_db("api"), true, |s| {
        s.bootstrap_api_key = Some(Secret::new(TEST_KEY.into()));
    })
    .await
}

/// Sends `req`, and again (a second later, three tries in all) while the server answers that
/// it is overloaded (503) or cut the request off at its deadline (504). With the whole suite
/// running at once on CI's two cores, a request has passed its 10 s deadline (the warnings
/// captured with the failure say which call was slow); for tests of what a request does, not
/// of how it holds up under load (those assert every status).
pub async fn send_past_overload(req: reqwest::RequestBuilder) -> reqwest::Response {
    for _ in 0..2 {
        let res = req.try_clone().expect("a request without a streamed body").send().await.expect("request");
        if ![503, 504].contains(&res.status().as_u16()) {
            return res;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    req.send().await.expect("request")
}

/// The app's warnings (slow database calls, requests cut off at their deadline) go to the
/// test's captured output, which a failing test prints: a 504 in CI then says what was slow.
fn capture_warnings() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("orderdesk=warn");
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter(filter).try_init();
    });
}

pub async fn spawn_app_on(
    uri: &str,
    database: &str,
    drop_on_exit: bool,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    capture_warnings();
    let mut settings = settings(uri, database);
    configure(&mut settings);
    // Start-up as `orderdesk serve` runs it, background work included; the indexes are
    // awaited here first (and only once) so the test's first request finds them.
    let mut app = build_app(settings, Background::Run).await;
    assert!(app.ensure_indexes_first().await, "mongod is not reachable");
    let store = app.state().store.clone();
    let address = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));
    let (cookie, csrf) = signed_in(&store, Role::Support).await;
    let client = client_with(&cookie, true);
    TestApp { address, store, client, cookie, csrf, drop_on_exit }
}

/// The application as `orderdesk serve` builds it, on a free port, not yet serving.
pub async fn build_app(settings: Settings, background: Background) -> Application {
    let mut leptos = startup::leptos_options().expect("Leptos settings");
    leptos.site_addr = "127.0.0.1:0".parse().unwrap();
    Application::build(settings, leptos, background).await.expect("start-up")
}

/// A store on a fresh database with every index in place, like a started server's.
pub async fn fresh_store(prefix: &str) -> Store {
    let mut settings = settings(&mongodb_uri(), &unique_db(prefix));
    // Tests push thousands of operations through a 10-connection pool at once.
    settings.operation_timeout = Duration::from_secs(60);
    let store = Store::connect(&settings).await.expect("connect");
    // The indexes as start-up makes them.
    assert!(startup::Tasks::new(store.clone(), settings.time_zone).ensure_indexes().await, "mongod is not reachable");
    store
}

/// A collection of the test's database on a client of its own, for crafting documents in the
/// bots' own (legacy) shapes, which orderdesk's typed storage does not write.
pub async fn raw_collection(database: &str, name: &str) -> mongodb::Collection<mongodb::bson::Document> {
    let client = mongodb::Client::with_uri_str(mongodb_uri()).await.expect("a client of the test's own");
    client.database(database).collection(name)
}

/// [`raw_collection`] on another mongod (a test's own).
pub async fn raw_collection_on(uri: &str, database: &str, name: &str) -> mongodb::Collection<mongodb::bson::Document> {
    let client = mongodb::Client::with_uri_str(uri).await.expect("a client of the test's own");
    client.database(database).collection(name)
}

/// Drops a database a test made without a `TestApp` to do it.
pub async fn drop_database(database: &str) {
    let client = mongodb::Client::with_uri_str(mongodb_uri()).await.expect("a client of the test's own");
    client.database(database).drop().await.expect("drop the test's database");
}

/// A new shipping-bot order for a customer, with nothing else set.
pub fn bot_order(telegram_id: Option<i64>, amount: Option<f64>) -> orderdesk::storage::orders::NewOrder {
    orderdesk::storage::orders::NewOrder {
        source: orderdesk::domain::orders::Source::ShippingBot,
        telegram_id: telegram_id.map(orderdesk::domain::ids::TelegramId),
        vendor_id: None,
        user_id: None,
        order_number: None,
        amount,
    }
}

/// The `orderdesk` binary built for these tests.
pub fn orderdesk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_orderdesk")
}

/// The real `orderdesk serve` on `database` and a free port, with these extra environment
/// variables; its output is piped (read it with `wait_with_output` after killing it).
pub fn serve_binary(database: &str, envs: &[(&str, &str)]) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Command::new(orderdesk_bin())
        .arg("serve")
        .env("MONGODB_URI", mongodb_uri())
        .env("ORDERDESK_DATABASE", database)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orderdesk serve starts");
    (server, port)
}

/// A mongod of a test's own, for tests that stop and restart the database.
pub struct OwnMongod {
    pub port: u16,
    dbpath: PathBuf,
    child: Option<Child>,
    /// `--replSet <name>` for a replica set's member; nothing for a standalone.
    replica_set: Option<String>,
    /// `--auth`: every client signs in (the localhost exception creates the first user).
    auth: bool,
}

impl OwnMongod {
    /// A standalone mongod.
    pub fn start() -> Self {
        Self::start_as(None)
    }

    /// A standalone mongod that requires users (`--auth`).
    pub fn start_with_auth() -> Self {
        Self::start_as_with(None, true)
    }

    fn start_as(replica_set: Option<String>) -> Self {
        Self::start_as_with(replica_set, false)
    }

    fn start_as_with(replica_set: Option<String>, auth: bool) -> Self {
        let dbpath = std::env::temp_dir().join(format!("orderdesk-mongod-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dbpath).expect("dbpath");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let mut me = Self { port, dbpath, child: None, replica_set, auth };
        me.restart();
        me
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    fn binary() -> PathBuf {
        std::env::var_os("ORDERDESK_MONGOD_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".mongo/fiftyone/db/bin/mongod"))
    }

    /// Starts mongod (again) on the same port and data directory; waits until it listens.
    pub fn restart(&mut self) {
        let child = Command::new(Self::binary())
            .args(["--dbpath", self.dbpath.to_str().expect("utf-8 path"), "--bind_ip", "127.0.0.1", "--quiet"])
            .args(["--port", &self.port.to_string()])
            .args(self.replica_set.iter().flat_map(|name| ["--replSet", name.as_str()]))
            .args(self.auth.then_some("--auth"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {}: {e} (run ./scripts/test to install it)", Self::binary().display())
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mongod did not listen on port {}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops mongod the hard way, as a crash or a pulled cable would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnMongod {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dbpath);
    }
}

/// A replica set of the test's own: several mongods from the wheel on loopback ports.
pub struct OwnReplicaSet {
    pub name: String,
    pub members: Vec<OwnMongod>,
}

impl OwnReplicaSet {
    /// Starts `n` members, initiates the set and waits for its first primary.
    pub async fn start(n: usize) -> Self {
        let name = format!("rs{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let members: Vec<OwnMongod> = (0..n).map(|_| OwnMongod::start_as(Some(name.clone()))).collect();
        let config = mongodb::bson::doc! {
            "_id": &name,
            "members": members.iter().enumerate().map(|(i, m)| mongodb::bson::doc! {
                "_id": i as i32, "host": format!("127.0.0.1:{}", m.port),
            }).collect::<Vec<_>>(),
        };
        let first = mongodb::Client::with_uri_str(members[0].uri()).await.expect("client");
        first
            .database("admin")
            .run_command(mongodb::bson::doc! { "replSetInitiate": config })
            .await
            .expect("replSetInitiate");
        let set = Self { name, members };
        eventually(|| async { set.primary().await }).await;
        set
    }

    /// The set's connection string: every member, and the set's name.
    pub fn uri(&self) -> String {
        let hosts: Vec<String> = self.members.iter().map(|m| format!("127.0.0.1:{}", m.port)).collect();
        format!("mongodb://{}/?replicaSet={}", hosts.join(","), self.name)
    }

    /// The member that is primary now, if one is.
    pub async fn primary(&self) -> Option<usize> {
        for (i, m) in self.members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            let Ok(client) = mongodb::Client::with_uri_str(format!("{}&serverSelectionTimeoutMS=1000", m.uri())).await
            else {
                continue;
            };
            let hello = client.database("admin").run_command(mongodb::bson::doc! { "hello": 1 }).await;
            if hello.is_ok_and(|h| h.get_bool("isWritablePrimary").unwrap_or(false)) {
                return Some(i);
            }
        }
        None
    }
}

/// Polls `check` every 100 ms until it gives a value; panics after 20 s (a background task
/// that never finishes is a failure, not a hang).
pub async fn eventually<T, F, Fut>(check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(Duration::from_secs(20), check).await
}

/// [`eventually`] with a bound of the caller's choosing.
pub async fn eventually_within<T, F, Fut>(bound: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + bound;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "still not there after {} s", bound.as_secs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every Rust source file under `dir` of the crate (`"src"`, `"src/storage"`), as paths.
pub fn rust_sources(dir: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the sources are readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    files
}

/// Signs in through the form from `local` (a loopback address of the caller's choosing).
pub async fn sign_in_from(address: &str, local: &str, email: &str, password: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(local.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    // A self-chosen double-submit token, as an attacker would send.
    client
        .post(format!("{address}/auth/login"))
        .header("cookie", "od_login=x")
        .form(&[("email", email), ("password", password), ("_csrf", "x")])
        .send()
        .await
        .unwrap()
}
