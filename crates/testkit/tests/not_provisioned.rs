//! Without a provisioned Synapse the kit fails loudly and says how to fix it.
//! (Its own test binary: it changes the process environment.)

use testkit::{Error, Synapse, SynapseOptions, PYTHON_ENV};

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
