//! One bridge installation per test: a fake Telegram datacenter on loopback,
//! a temporary directory with the config and the database seeded to point at
//! the fake, and helpers to run the real `tgbridge` binary on a terminal.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use fake_telegram::world::{UserId, UserSpec};
use fake_telegram::FakeTelegram;
use tgbridge::store::Store;

use super::pty::Pty;

/// How long any single expectation on the terminal may wait. Generous: the
/// 2FA check runs PBKDF2 and 2048-bit exponentiations in a debug build, on
/// both sides, and CI shares two cores between parallel tests. Only a hang
/// should ever reach it; a passing step returns as soon as its text appears.
pub const STEP: Duration = Duration::from_secs(90);

/// api_hash written into the test config (32 hex digits, not the example's).
const API_HASH: &str = "9f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A test installation.
pub struct Fixture {
    /// The fake datacenter; lives on `runtime`.
    pub fake: FakeTelegram,
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    /// The auth key last seeded into the database.
    key: Mutex<[u8; 256]>,
}

impl Fixture {
    /// A fake datacenter and a database seeded with a fresh (not logged-in)
    /// auth key for it.
    pub fn new() -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime for the fake datacenter");
        let fake = runtime.block_on(FakeTelegram::start());
        let dir = tempfile::tempdir().expect("temporary directory");
        let fixture = Fixture {
            fake,
            runtime,
            dir,
            key: Mutex::new([0; 256]),
        };
        fixture.write_config();
        fixture.seed(fixture.fake.addr());
        fixture
    }

    /// Adds an account to the fake's world.
    pub fn add_user(&self, spec: UserSpec) -> UserId {
        self.fake.world().lock().expect("world lock").add_user(spec)
    }

    /// Points the database at `addr` with a new auth key the fake knows
    /// (as a fresh installation would get from the key exchange).
    pub fn seed(&self, addr: SocketAddr) {
        let key = self.fake.new_auth_key();
        self.store()
            .seed_dc(addr, key)
            .expect("seed the datacenter");
        *self.key.lock().expect("key lock") = key;
    }

    /// Seeds a key that Telegram already considers logged into `account`
    /// while the database has no login: what a login interrupted right after
    /// Telegram accepted it leaves behind.
    pub fn seed_accepted_login(&self, account: UserId) {
        let key = self.fake.logged_in_auth_key(account);
        self.store()
            .seed_dc(self.fake.addr(), key)
            .expect("seed the datacenter");
        *self.key.lock().expect("key lock") = key;
    }

    /// The account the fake says the seeded auth key is logged into.
    pub fn account_at_telegram(&self) -> Option<UserId> {
        let key = *self.key.lock().expect("key lock");
        self.fake.account_of(&key)
    }

    /// Points the database at a loopback port nobody listens on, keeping
    /// whatever login it holds: Telegram is now unreachable.
    pub fn seed_unreachable(&self) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().expect("free port address");
        drop(listener);
        let key = *self.key.lock().expect("key lock");
        self.store()
            .seed_dc(addr, key)
            .expect("seed the datacenter");
    }

    /// The bridge's database (a second connection next to the binary's).
    pub fn store(&self) -> Store {
        Store::open(&self.database()).expect("open the database")
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("tgbridge.db")
    }

    /// The directory holding everything the bridge writes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `tgbridge <args>` with this installation's config and full logging.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tgbridge"));
        command
            .arg("--config")
            .arg(self.dir.path().join("config.yaml"))
            .args(args)
            .env("RUST_LOG", "trace")
            .env("TERM", "dumb")
            .env_remove("TGBRIDGE_CONFIG");
        command
    }

    /// `tgbridge <args>` on a fresh terminal.
    pub fn spawn(&self, args: &[&str]) -> Pty {
        Pty::spawn(self.command(args))
    }

    /// Runs a future on the fake's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The auth key last seeded into the database.
    pub fn seeded_key(&self) -> [u8; 256] {
        *self.key.lock().expect("key lock")
    }

    /// Every file under the test directory whose bytes contain `needle`.
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        self.files_containing_bytes(needle.as_bytes())
    }

    /// Every file under the test directory whose bytes contain `needle`.
    pub fn files_containing_bytes(&self, needle: &[u8]) -> Vec<PathBuf> {
        let mut hits = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read test directory") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else if contains(&std::fs::read(&path).expect("read file"), needle) {
                    hits.push(path);
                }
            }
        }
        hits
    }

    fn write_config(&self) {
        let config = format!(
            "homeserver:\n  address: http://127.0.0.1:1\n  domain: example.test\n\
             appservice:\n  address: http://127.0.0.1:29317\n  as_token: as-token-for-tests\n  hs_token: hs-token-for-tests\n\
             owner: \"@owner:example.test\"\n\
             telegram:\n  api_id: 424242\n  api_hash: {API_HASH}\n\
             database: {}\n\
             logging:\n  level: trace\n",
            self.database().display()
        );
        std::fs::write(self.dir.path().join("config.yaml"), config).expect("write the config");
    }
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
