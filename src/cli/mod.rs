//! The `tgbridge` command line: argument parsing, choosing the config file,
//! and dispatching to one module per command. This is the edge where errors
//! become messages and exit codes; the commands' real work lives in the
//! library modules they call.

mod check;
mod generate_registration;
pub(crate) mod login;
mod logout;
pub mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "TGBRIDGE_CONFIG";
/// Config file used when neither `--config` nor `$TGBRIDGE_CONFIG` is given.
pub const DEFAULT_CONFIG: &str = "config.yaml";

/// Exit code for a failed command (bad config, failed check, I/O error).
pub const EXIT_FAILURE: u8 = 1;

/// A Matrix <-> Telegram puppeting bridge for one person's homeserver.
#[derive(Debug, Parser)]
#[command(name = "tgbridge", version, about, long_about = None)]
#[command(after_help = "Getting started:\n  \
    1. copy config.example.yaml to config.yaml and fill it in\n  \
    2. tgbridge generate-registration   (and register the file with your homeserver)\n  \
    3. tgbridge check\n  \
    4. tgbridge login\n  \
    5. tgbridge run   (usually through systemd)")]
pub struct Cli {
    /// Config file [default: $TGBRIDGE_CONFIG, else ./config.yaml]
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "PATH",
        env = CONFIG_ENV,
        hide_env = true
    )]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge service (what systemd starts).
    Run,
    /// Log in to Telegram from this terminal: phone number, code and 2FA
    /// password, typed hidden.
    Login(LoginArgs),
    /// Log out of Telegram and forget the session; portals are kept.
    Logout,
    /// Write the appservice registration file for the homeserver, generating
    /// the appservice tokens into the config if they are empty.
    GenerateRegistration(GenerateRegistrationArgs),
    /// Check the config, the database and the homeserver connection; one
    /// line per step, non-zero exit if any fails.
    Check,
}

/// Options of `login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Log in as a Telegram bot; the token from @BotFather is asked for hidden.
    #[arg(long, conflicts_with = "qr")]
    pub bot_token: bool,
    /// Log in by scanning a QR code with the Telegram app instead of a code.
    #[arg(long)]
    pub qr: bool,
}

/// Options of `generate-registration`.
#[derive(Debug, clap::Args)]
pub struct GenerateRegistrationArgs {
    /// Where to write the registration [default: registration.yaml next to the config]
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

impl Cli {
    /// The config file: `--config`, else `$TGBRIDGE_CONFIG`, else `./config.yaml`.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .filter(|path| !path.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = cli.config_path();
    match cli.command {
        Command::Run => match load_config_and_init_logging(&config_path) {
            Ok(config) => match run::run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("tgbridge run: {err:#}");
                    ExitCode::from(EXIT_FAILURE)
                }
            },
            Err(code) => code,
        },
        Command::Login(args) => login::run(&config_path, &args),
        Command::Logout => logout::run(&config_path),
        Command::GenerateRegistration(args) => {
            generate_registration::run(&config_path, args.output.as_deref())
        }
        Command::Check => check::run(&config_path),
    }
}

/// Loads the config and starts logging at its level, or prints the error.
fn load_config_and_init_logging(path: &std::path::Path) -> Result<Config, ExitCode> {
    match Config::load(path) {
        Ok(config) => {
            init_logging(&config.logging.level);
            tracing::debug!(config = %path.display(), "loaded config");
            Ok(config)
        }
        Err(err) => {
            eprintln!("tgbridge: {err}");
            if matches!(err.kind, crate::config::ConfigErrorKind::Read(_)) {
                eprintln!(
                    "hint: pass --config PATH or set {CONFIG_ENV}; config.example.yaml is a \
                     commented template"
                );
            }
            Err(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// Starts logging, with the watcher that counts Telegram updates the
/// client could not read ([`crate::telegram::unreadable`]) next to it; a
/// broken filter is reported and logging stays off rather than stopping a
/// command that does not depend on it.
fn init_logging(level: &str) {
    use tracing_subscriber::Layer as _;
    let watcher = crate::telegram::unreadable::Watcher
        .with_filter(crate::telegram::unreadable::Watcher::filter())
        .boxed();
    if let Err(err) = crate::logging::init(level, vec![watcher]) {
        eprintln!("tgbridge: {err}; logging is off");
    }
}
