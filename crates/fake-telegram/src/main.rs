//! `fake-telegram`: runs the fake datacenter from a world file for black-box
//! tests and benchmarks. Prints one JSON line with the MTProto address and
//! the control URL on stdout, logs to stderr, and serves the control API over
//! HTTP on loopback until interrupted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use fake_telegram::world::{UserSpec, World};
use fake_telegram::FakeTelegram;
use serde::Deserialize;

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
}

/// The world file: accounts that can log in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    #[serde(default)]
    accounts: Vec<AccountFile>,
}

/// One account of the world file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    first_name: String,
    last_name: Option<String>,
    username: Option<String>,
    /// With or without `+`.
    phone: Option<String>,
    #[serde(default)]
    bot: bool,
    bot_token: Option<String>,
    password: Option<String>,
    password_hint: Option<String>,
    login_code: Option<String>,
    #[serde(default)]
    banned: bool,
}

impl From<AccountFile> for UserSpec {
    fn from(a: AccountFile) -> Self {
        UserSpec {
            first_name: a.first_name,
            last_name: a.last_name,
            username: a.username,
            phone: a
                .phone
                .map(|p| p.chars().filter(char::is_ascii_digit).collect()),
            bot: a.bot,
            bot_token: a.bot_token,
            password: a.password,
            password_hint: a.password_hint,
            login_code: a.login_code,
            banned: a.banned,
        }
    }
}

/// Reads a world file; YAML is a superset of JSON, so one parser reads both.
fn load_world(path: &Path) -> anyhow::Result<World> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading world file {}", path.display()))?;
    let file: WorldFile = serde_yaml::from_str(&text)
        .with_context(|| format!("parsing world file {}", path.display()))?;
    let mut world = World::new();
    for account in file.accounts {
        world.add_user(account.into());
    }
    Ok(world)
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
