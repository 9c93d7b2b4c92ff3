//! Free loopback ports for servers a test starts (Synapse, the bridge's
//! appservice listener). Only 127.0.0.1 is ever bound.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// Ports already handed out in this process: the kernel may offer a just
/// released port again, and two servers of one test must not share it.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Returns a TCP port on 127.0.0.1 that was free a moment ago and that this
/// process has not handed out before.
///
/// The port is released before returning, so another process could take it
/// in between; on a test machine that race is rare enough to accept.
pub fn free_port() -> std::io::Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        // A poisoned lock only means another test panicked while holding it;
        // the set itself is still consistent (one insert per critical section).
        let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if guard.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no unused loopback port after 64 attempts",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_bindable_and_never_repeated() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, ports[0])).unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), ports[0]);
    }
}
