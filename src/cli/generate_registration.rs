//! `tgbridge generate-registration`: fills in missing appservice tokens in the
//! config, writes the registration file (mode 0600) and tells the user how to
//! hand it to Synapse or Conduit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::{load_config_and_init_logging, EXIT_FAILURE};
use crate::config::{tokens, Config};
use crate::matrix::registration::Registration;

/// Runs the command with the config at `config_path`.
pub fn run(config_path: &Path, output: Option<&Path>) -> ExitCode {
    let mut config = match load_config_and_init_logging(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    match generate(&mut config, output) {
        Ok(outcome) => {
            print!("{}", next_steps(&config, &outcome));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tgbridge generate-registration: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// What the command did.
struct Outcome {
    /// Config keys that got freshly generated tokens.
    filled: Vec<&'static str>,
    /// Where the registration was written.
    written: PathBuf,
}

fn generate(config: &mut Config, output: Option<&Path>) -> anyhow::Result<Outcome> {
    let filled = tokens::fill_missing_tokens(config)
        .context("cannot store the generated tokens in the config")?;
    let written = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config.registration_path());
    let yaml = Registration::from_config(config)
        .to_yaml()
        .context("cannot render the registration as YAML")?;
    let header = "# Appservice registration for tgbridge, written by \
                  `tgbridge generate-registration`.\n# It holds secrets: keep it private.\n";
    tokens::write_private_file(&written, format!("{header}{yaml}").as_bytes())
        .with_context(|| format!("cannot write {}", written.display()))?;
    tracing::info!(registration = %written.display(), "wrote appservice registration");
    Ok(Outcome { filled, written })
}

/// The message printed after success: what happened and what to do next.
fn next_steps(config: &Config, outcome: &Outcome) -> String {
    let mut text = String::new();
    if outcome.filled.is_empty() {
        text.push_str(&format!(
            "Using the appservice tokens already in {}.\n",
            config.path().display()
        ));
    } else {
        text.push_str(&format!(
            "Generated {} and saved {} in {}.\n",
            outcome.filled.join(" and "),
            if outcome.filled.len() == 1 {
                "it"
            } else {
                "them"
            },
            config.path().display()
        ));
    }
    let reg = outcome.written.display();
    let domain = &config.homeserver.domain;
    text.push_str(&format!(
        "Wrote the appservice registration to {reg}.\n\
         \n\
         Next, register it with your homeserver:\n\
         \x20 Synapse: add its absolute path to `app_service_config_files` in homeserver.yaml\n\
         \x20          (the file must be readable by Synapse) and restart Synapse.\n\
         \x20 Conduit: in the admin room, send a message starting with\n\
         \x20          `@conduit:{domain}: register-appservice`\n\
         \x20          followed by the contents of {reg} in a ``` code block.\n\
         Re-register it whenever you run this command after changing the appservice\n\
         or bridge settings. Then run `tgbridge check`.\n"
    ));
    text
}
