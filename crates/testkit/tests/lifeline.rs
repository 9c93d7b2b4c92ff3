//! A homeserver must not outlive the test process, however that process ends.
//!
//! Each test re-runs this binary as a child that starts the server, reports
//! its port and aborts (no destructors, like a crash or a kill); the server
//! must then stop on its own and its data directory disappear.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{Homeserver, HomeserverKind, HomeserverOptions};

const CHILD_ENV: &str = "TESTKIT_LIFELINE_CHILD";

#[tokio::test]
async fn synapse_stops_when_the_test_process_aborts() {
    stops_when_the_test_process_aborts(
        HomeserverKind::Synapse,
        "synapse_stops_when_the_test_process_aborts",
    )
    .await;
}

#[tokio::test]
async fn conduit_stops_when_the_test_process_aborts() {
    stops_when_the_test_process_aborts(
        HomeserverKind::Conduit,
        "conduit_stops_when_the_test_process_aborts",
    )
    .await;
}

async fn stops_when_the_test_process_aborts(kind: HomeserverKind, test_name: &str) {
    if std::env::var_os(CHILD_ENV).is_some() {
        let server = Homeserver::start(kind, HomeserverOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = server.base_url().rsplit(':').next().unwrap().to_owned();
        println!("READY {port} {}", server.data_dir().display());
        std::process::abort();
    }

    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let ready = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("READY ").map(str::to_owned))
        .unwrap_or_else(|| panic!("the child never reported a running {kind}"));
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was meant to abort");
    eprintln!(
        "child started {kind} and aborted after {:?}",
        started.elapsed()
    );

    let (port, data_dir) = ready.split_once(' ').unwrap();
    let port: u16 = port.parse().unwrap();
    let data_dir = PathBuf::from(data_dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() || data_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "{kind} on port {port} (data in {}) outlived its test process",
            data_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
