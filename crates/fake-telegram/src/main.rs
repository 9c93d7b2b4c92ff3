//! `fake-telegram`: runs the fake datacenter from a world file for black-box
//! tests and benchmarks. Prints one JSON line with the MTProto address and
//! the control URL on stdout, logs to stderr, and serves the control API over
//! HTTP on loopback until interrupted. With `--seed-tgbridge-db` it first
//! points an existing tgbridge database at itself (see [`tgbridge_db`]).

mod tgbridge_db;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use fake_telegram::world::spec::WorldSpec;
use fake_telegram::world::{Peer, UserId, World};
use fake_telegram::FakeTelegram;

/// A fake Telegram datacenter speaking MTProto 2.0 on loopback.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// World description (YAML or JSON): accounts, users, chats, messages.
    #[arg(long)]
    world: Option<PathBuf>,
    /// Where clients connect (MTProto over TCP). Loopback only.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where the HTTP control API listens. Loopback only.
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
    /// An existing tgbridge database to point at this fake before serving:
    /// all five DC options get this fake's address and an auth key it knows.
    #[arg(long, value_name = "PATH")]
    seed_tgbridge_db: Option<PathBuf>,
    /// The account the seeded key is logged into: a world-file key (e.g.
    /// `me`) or a phone number. Without it the key is logged into nobody,
    /// for testing the login flows.
    #[arg(long, value_name = "KEY|PHONE", requires = "seed_tgbridge_db")]
    seed_account: Option<String>,
}

/// Reads a world file; YAML is a superset of JSON, so one parser reads both.
fn load_world(path: &Path) -> anyhow::Result<World> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading world file {}", path.display()))?;
    let spec: WorldSpec = serde_yaml::from_str(&text)
        .with_context(|| format!("parsing world file {}", path.display()))?;
    World::try_from_spec(&spec).with_context(|| format!("building the world of {}", path.display()))
}

/// The account a world-file key or phone number names.
fn account_named(fake: &FakeTelegram, name: &str) -> anyhow::Result<UserId> {
    let world = fake.world();
    let world = world.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Peer::User(id)) = world.peer_by_name(name) {
        return Ok(id);
    }
    fake_telegram::auth::normalize_phone(name)
        .and_then(|digits| world.user_by_phone(&digits).map(|user| user.id))
        .with_context(|| format!("--seed-account: no account `{name}` (key or phone) in the world"))
}

/// Writes the tgbridge session rows for `account` (or a key logged into
/// nobody) into the database at `path`.
fn seed_tgbridge(fake: &FakeTelegram, path: &Path, account: Option<&str>) -> anyhow::Result<()> {
    let key = match account {
        Some(name) => fake.logged_in_auth_key(account_named(fake, name)?),
        None => fake.new_auth_key(),
    };
    tgbridge_db::seed(path, fake.addr(), &key)
        .with_context(|| format!("--seed-tgbridge-db {}", path.display()))?;
    tracing::info!(database = %path.display(), "seeded the tgbridge database");
    Ok(())
}

fn require_loopback(addr: SocketAddr, flag: &str) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("--{flag} {addr}: the fake only listens on loopback");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    require_loopback(args.listen, "listen")?;
    require_loopback(args.control, "control")?;
    let world = match &args.world {
        Some(path) => load_world(path)?,
        None => World::new(),
    };
    let fake = Arc::new(
        FakeTelegram::bind(world, args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?,
    );
    if let Some(path) = &args.seed_tgbridge_db {
        seed_tgbridge(&fake, path, args.seed_account.as_deref())?;
    }
    let control = tokio::net::TcpListener::bind(args.control)
        .await
        .with_context(|| format!("binding {}", args.control))?;
    let control_url = format!("http://{}", control.local_addr()?);
    println!(
        "{}",
        serde_json::json!({ "mtproto": fake.addr().to_string(), "control": control_url })
    );
    let app = fake_telegram::http::router(fake.clone());
    axum::serve(control, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the control API")?;
    Ok(())
}
