//! Shared support for the `login_*` tests: the pseudo-terminal harness and a
//! bridge installation wired to the fake Telegram datacenter.

#![allow(dead_code)] // each test binary uses a different part

pub mod accounts;
pub mod fixture;
pub mod pty;
pub mod qr;

use grammers_session::types::PeerId;
use tgbridge::store::{Portal, PortalKind, Store};

/// Stores a portal for a Telegram group, as a bridge that ran for a while
/// would have; returns its peer.
pub fn seed_portal(store: &Store) -> PeerId {
    let peer = PeerId::chat(4242).expect("a valid chat id");
    let portal = Portal {
        peer,
        kind: PortalKind::Group,
        room_id: "!portal:example.test".try_into().expect("room id"),
        title: Some("Ada's group".into()),
        avatar_photo_id: None,
        avatar_mxc: None,
        encrypted: false,
        in_space: false,
        topic: None,
    };
    store.portals().upsert(&portal).expect("store a portal");
    peer
}
