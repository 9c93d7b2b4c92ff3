//! `tgbridge logout`: ends the session at Telegram (`auth.logOut`) and removes
//! the auth key and cached secrets from the database, keeping portals so a
//! later login with the same account reuses them. When Telegram cannot be
//! reached the local session is removed anyway, with a warning.

use std::path::Path;
use std::process::ExitCode;

use super::login::client_options;
use super::{load_config_and_init_logging, EXIT_FAILURE};
use crate::config::Config;
use crate::store::Store;
use crate::telegram::logout::{end_stored_login, RemoteLogout};

/// Runs `tgbridge logout` with the config at `config_path`.
pub fn run(config_path: &Path) -> ExitCode {
    let config = match load_config_and_init_logging(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tgbridge logout: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(logout(&config))
}

/// Logs out remotely if there is a login, then forgets it locally.
async fn logout(config: &Config) -> ExitCode {
    let store = match Store::open(&config.database) {
        Ok(store) => store,
        Err(err) => {
            eprintln!(
                "tgbridge logout: cannot open the database {}: {err}",
                config.database.display()
            );
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match store.has_telegram_login() {
        Ok(true) => {}
        Ok(false) => {
            // Leftovers of an interrupted login hold no account, but an auth
            // key is still a secret worth removing.
            return match store
                .clear_telegram_login()
                .and_then(|()| store.scrub_deleted_data())
            {
                Ok(()) => {
                    println!("Not logged in to Telegram; nothing to log out.");
                    ExitCode::SUCCESS
                }
                Err(err) => failed_to_clear(&err),
            };
        }
        Err(err) => {
            eprintln!("tgbridge logout: cannot read the session from the database: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    }
    let ended =
        match end_stored_login(&store, config.telegram.api_id, &client_options(config)).await {
            Ok(ended) => ended,
            Err(err) => return failed_to_clear(&err),
        };
    if let Some(err) = &ended.scrub_failed {
        eprintln!(
            "warning: the session is removed, but old copies of the auth key may remain in \
             unused space of {} ({err}); stop the bridge and run `tgbridge logout` again to \
             remove them.",
            config.database.display()
        );
    }
    let remote = ended.remote;
    match &remote {
        RemoteLogout::LoggedOut | RemoteLogout::AlreadyEnded => println!("{}", remote.describe()),
        RemoteLogout::Unreachable(_) | RemoteLogout::Refused(_) => {
            eprintln!("warning: {}", remote.describe())
        }
    }
    println!(
        "Removed the Telegram session (auth key, cached users and update state) from {}.",
        config.database.display()
    );
    println!("Portals are kept: logging in again with the same account reuses them.");
    println!(
        "If the bridge service is running, restart it so it stops using the old session:\n  \
         sudo systemctl restart tgbridge"
    );
    ExitCode::SUCCESS
}

/// Reports that the local session could not be removed.
fn failed_to_clear(err: &crate::store::StoreError) -> ExitCode {
    eprintln!("tgbridge logout: could not remove the session from the database: {err}");
    ExitCode::from(EXIT_FAILURE)
}
