//! Without a provisioned Synapse or Conduit the kit fails loudly and says how
//! to fix it.
//! (Its own test binary: it changes the process environment.)

use testkit::{Conduit, ConduitOptions, Error, Synapse, SynapseOptions, CONDUIT_ENV, PYTHON_ENV};

#[tokio::test]
async fn a_missing_interpreter_is_a_clear_error() {
    std::env::set_var(PYTHON_ENV, "/nonexistent/venv/bin/python");
    let err = match Synapse::start(SynapseOptions::default()).await {
        Ok(_) => panic!("Synapse started without an interpreter"),
        Err(err) => err,
    };
    assert!(matches!(err, Error::NotProvisioned { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/venv/bin/python"),
        "{message}"
    );
    assert!(message.contains("./test.sh"), "{message}");
}

#[tokio::test]
async fn a_missing_conduit_binary_is_a_clear_error() {
    std::env::set_var(CONDUIT_ENV, "/nonexistent/conduit");
    let err = match Conduit::start(ConduitOptions::default()).await {
        Ok(_) => panic!("Conduit started without a binary"),
        Err(err) => err,
    };
    assert!(matches!(err, Error::ConduitNotProvisioned { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("/nonexistent/conduit"), "{message}");
    assert!(message.contains(CONDUIT_ENV), "{message}");
    assert!(message.contains("./test.sh"), "{message}");
}
