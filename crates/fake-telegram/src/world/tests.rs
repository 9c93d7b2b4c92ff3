//! Unit tests of the world through its real interface: serialized TL
//! requests into [`rpc::handle`], serialized results back out.

use grammers_tl_types::{self as tl, functions as f, Deserializable, RemoteCall, Serializable};

use super::*;
use crate::RpcError;

fn user(world: &mut World, name: &str, phone: &str) -> UserId {
    world.add_user(UserSpec {
        first_name: name.into(),
        username: Some(name.to_lowercase()),
        phone: Some(phone.into()),
        ..UserSpec::default()
    })
}

/// A world with Alice and Bob, who are not contacts.
fn alice_and_bob() -> (World, UserId, UserId) {
    let mut world = World::new();
    let alice = user(&mut world, "Alice", "100");
    let bob = user(&mut world, "Bob", "200");
    (world, alice, bob)
}

fn ctx(account: UserId) -> CallCtx {
    CallCtx {
        account,
        auth_key_id: account * 10,
    }
}

fn call<R: RemoteCall>(
    world: &mut World,
    account: UserId,
    request: &R,
) -> Result<R::Return, RpcError> {
    let bytes = rpc::handle(world, &ctx(account), &request.to_bytes()).expect("a world method")?;
    Ok(R::Return::from_bytes(&bytes).expect("a well-formed result"))
}

fn input_user(world: &World, id: UserId, viewer: UserId) -> tl::enums::InputPeer {
    world.input_peer(Peer::User(id), viewer)
}

/// `messages.sendMessage` with every option off.
fn send_message_request(
    peer: tl::enums::InputPeer,
    text: &str,
    random_id: i64,
    entities: Option<Vec<tl::enums::MessageEntity>>,
) -> f::messages::SendMessage {
    f::messages::SendMessage {
        no_webpage: false,
        silent: false,
        background: false,
        clear_draft: false,
        noforwards: false,
        update_stickersets_order: false,
        invert_media: false,
        allow_paid_floodskip: false,
        peer,
        reply_to: None,
        message: text.into(),
        random_id,
        reply_markup: None,
        entities,
        schedule_date: None,
        schedule_repeat_period: None,
        send_as: None,
        quick_reply_shortcut: None,
        effect: None,
        allow_paid_stars: None,
        suggested_post: None,
        rich_message: None,
    }
}

fn send(
    world: &mut World,
    from: UserId,
    peer: tl::enums::InputPeer,
    text: &str,
) -> Result<tl::enums::Updates, RpcError> {
    call(world, from, &send_message_request(peer, text, 42, None))
}

/// `messages.getHistory` for the newest `limit` messages.
fn history_request(peer: tl::enums::InputPeer, limit: i32) -> f::messages::GetHistory {
    f::messages::GetHistory {
        peer,
        offset_id: 0,
        offset_date: 0,
        add_offset: 0,
        limit,
        max_id: 0,
        min_id: 0,
        hash: 0,
    }
}

/// `upload.getFile` for `limit` bytes of `location` from `offset`.
fn get_file_request(
    location: impl Into<tl::enums::InputFileLocation>,
    offset: i64,
    limit: i32,
) -> f::upload::GetFile {
    f::upload::GetFile {
        precise: false,
        cdn_supported: false,
        location: location.into(),
        offset,
        limit,
    }
}

/// Where a document's bytes are, as a client names it.
fn document_location(
    id: i64,
    access_hash: i64,
    file_reference: Vec<u8>,
) -> tl::types::InputDocumentFileLocation {
    tl::types::InputDocumentFileLocation {
        id,
        access_hash,
        file_reference,
        thumb_size: String::new(),
    }
}

/// Every message of a `messages.Messages` answer, whatever its variant.
fn message_list(result: tl::enums::messages::Messages) -> Vec<tl::enums::Message> {
    match result {
        tl::enums::messages::Messages::Messages(m) => m.messages,
        tl::enums::messages::Messages::Slice(m) => m.messages,
        tl::enums::messages::Messages::ChannelMessages(m) => m.messages,
        tl::enums::messages::Messages::NotModified(_) => Vec::new(),
    }
}

fn history(world: &mut World, viewer: UserId, peer: tl::enums::InputPeer) -> Vec<(i32, String)> {
    let result = call(world, viewer, &history_request(peer, 100)).unwrap();
    message_list(result)
        .into_iter()
        .map(|m| match m {
            tl::enums::Message::Message(m) => (m.id, m.message),
            tl::enums::Message::Service(m) => (m.id, "<service>".into()),
            tl::enums::Message::Empty(m) => (m.id, "<empty>".into()),
        })
        .collect()
}

fn drain(rx: &mut tokio::sync::broadcast::Receiver<Push>) -> Vec<Push> {
    let mut out = Vec::new();
    while let Ok(p) = rx.try_recv() {
        out.push(p);
    }
    out
}

#[test]
fn tl_user_marks_self_and_gives_each_viewer_its_own_access_hash() {
    let (world, alice, bob) = alice_and_bob();
    let Some(tl::enums::User::User(me)) = world.tl_user(alice, alice) else {
        panic!("alice exists")
    };
    assert!(me.is_self);
    assert_eq!(me.access_hash, Some(world.user(alice).unwrap().access_hash));
    assert_eq!(me.phone.as_deref(), Some("100"));
    let Some(tl::enums::User::User(seen)) = world.tl_user(alice, bob) else {
        panic!("alice exists")
    };
    assert!(!seen.is_self);
    assert_ne!(seen.access_hash, me.access_hash);
    assert_eq!(seen.phone, None, "phones are private to non-contacts");
    assert!(world.tl_user(999, alice).is_none());
}

#[test]
fn private_chat_ids_are_scoped_per_account() {
    let (mut world, alice, bob) = alice_and_bob();
    let carol = user(&mut world, "Carol", "300");
    // Bob's box moves ahead so both sides number differently.
    world.send_text(carol, Peer::User(bob), "hi bob").unwrap();
    world
        .send_text(carol, Peer::User(bob), "still there?")
        .unwrap();

    let to_bob = input_user(&world, bob, alice);
    let to_alice = input_user(&world, alice, bob);
    let result = send(&mut world, alice, to_bob.clone(), "hello").unwrap();
    let tl::enums::Updates::UpdateShortSentMessage(sent) = result else {
        panic!("short sent message")
    };
    assert_eq!(sent.id, 1);
    assert!(sent.out);

    assert_eq!(
        history(&mut world, alice, to_bob),
        vec![(1, "hello".to_string())]
    );
    assert_eq!(
        history(&mut world, bob, to_alice),
        vec![(3, "hello".to_string())]
    );
    let bob_view = world.last_message(bob, Peer::User(alice)).unwrap();
    assert_eq!(
        (bob_view.id, bob_view.out, bob_view.from),
        (3, false, alice)
    );
}

#[test]
fn wrong_access_hashes_are_rejected() {
    let (mut world, alice, bob) = alice_and_bob();
    let carol = user(&mut world, "Carol", "300");
    // Carol's hash for Bob is not Alice's.
    let carols_view = input_user(&world, bob, carol);
    assert_eq!(
        send(&mut world, alice, carols_view, "x").unwrap_err().name,
        "PEER_ID_INVALID"
    );

    let channel = world.create_channel(bob, "News", "", true).unwrap();
    let wrong = tl::types::InputChannel {
        channel_id: channel,
        access_hash: 1,
    }
    .into();
    let err = call(
        &mut world,
        bob,
        &f::channels::GetFullChannel { channel: wrong },
    )
    .unwrap_err();
    assert_eq!(err.name, "CHANNEL_INVALID");
    let right = world.input_channel(channel, bob);
    assert!(call(
        &mut world,
        bob,
        &f::channels::GetFullChannel { channel: right }
    )
    .is_ok());
}

#[test]
fn basic_group_members_see_their_own_ids_and_short_pushes() {
    let (mut world, alice, bob) = alice_and_bob();
    world
        .send_text(bob, Peer::User(bob), "note to self")
        .unwrap();
    let chat = world.create_group(alice, "Friends", &[bob]).unwrap();
    let mut rx = world.subscribe();

    let result = send(
        &mut world,
        alice,
        tl::types::InputPeerChat { chat_id: chat }.into(),
        "hi all",
    )
    .unwrap();
    let tl::enums::Updates::UpdateShortSentMessage(sent) = result else {
        panic!("short sent message")
    };
    assert_eq!(sent.id, 2, "creation service message is 1 for alice");

    let pushes = drain(&mut rx);
    let to_bob = pushes
        .iter()
        .find(|p| p.account == bob)
        .expect("bob gets a push");
    let tl::enums::Updates::UpdateShortChatMessage(m) = &to_bob.updates else {
        panic!("short chat message")
    };
    assert_eq!((m.id, m.from_id, m.chat_id, m.out), (3, alice, chat, false));
    assert_eq!(
        m.pts,
        world.state(bob).pts,
        "pushed pts is local pts + pts_count"
    );
    let to_alice = pushes
        .iter()
        .find(|p| p.account == alice)
        .expect("alice's other sessions get it");
    assert_eq!(to_alice.skip_auth_key, Some(ctx(alice).auth_key_id));
    assert_eq!(to_bob.skip_auth_key, None);
}

#[test]
fn channel_messages_share_one_id_and_channel_pts() {
    let (mut world, alice, bob) = alice_and_bob();
    let group = world.create_supergroup(alice, "Big", &[bob]).unwrap();
    let mut rx = world.subscribe();
    let pts_before = world.channel(group).unwrap().updates.pts;

    let peer = world.input_peer(Peer::Channel(group), alice);
    let tl::enums::Updates::Updates(result) =
        send(&mut world, alice, peer, "hello channel").unwrap()
    else {
        panic!("channels answer with full updates")
    };
    assert!(matches!(result.updates[0], tl::enums::Update::MessageId(ref u) if u.random_id == 42));
    let tl::enums::Update::NewChannelMessage(new) = &result.updates[1] else {
        panic!("new channel message")
    };
    assert_eq!((new.pts, new.pts_count), (pts_before + 1, 1));

    let pushes = drain(&mut rx);
    let to_bob = pushes.iter().find(|p| p.account == bob).unwrap();
    let tl::enums::Updates::Updates(u) = &to_bob.updates else {
        panic!("full updates")
    };
    assert_eq!(u.seq, 0);
    assert!(u
        .chats
        .iter()
        .any(|c| matches!(c, tl::enums::Chat::Channel(c) if c.id == group)));
    let bob_peer = world.input_peer(Peer::Channel(group), bob);
    let alice_peer = world.input_peer(Peer::Channel(group), alice);
    let bob_history = history(&mut world, bob, bob_peer);
    let alice_history = history(&mut world, alice, alice_peer);
    assert_eq!(bob_history, alice_history);
    assert_eq!(bob_history[0].1, "hello channel");
}

#[test]
fn get_difference_returns_exact_slices() {
    let (mut world, alice, bob) = alice_and_bob();
    let state = call(&mut world, alice, &f::updates::GetState {}).unwrap();
    let tl::enums::updates::State::State(state) = state;
    for i in 0..5 {
        world
            .send_text(bob, Peer::User(alice), &format!("m{i}"))
            .unwrap();
    }
    world.set_difference_slice(3);
    let req = |pts| f::updates::GetDifference {
        pts,
        pts_limit: None,
        pts_total_limit: None,
        date: state.date,
        qts: 0,
        qts_limit: None,
    };
    let tl::enums::updates::Difference::Slice(slice) =
        call(&mut world, alice, &req(state.pts)).unwrap()
    else {
        panic!("a slice")
    };
    assert_eq!(slice.new_messages.len(), 3);
    let tl::enums::updates::State::State(mid) = slice.intermediate_state;
    assert_eq!(mid.pts, state.pts + 3);
    assert!(slice
        .users
        .iter()
        .any(|u| matches!(u, tl::enums::User::User(u) if u.id == bob)));

    let tl::enums::updates::Difference::Difference(rest) =
        call(&mut world, alice, &req(mid.pts)).unwrap()
    else {
        panic!("the rest")
    };
    let texts: Vec<_> = rest
        .new_messages
        .iter()
        .map(|m| match m {
            tl::enums::Message::Message(m) => m.message.clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(texts, ["m3", "m4"]);
    let tl::enums::updates::State::State(end) = rest.state;
    assert!(matches!(
        call(&mut world, alice, &req(end.pts)).unwrap(),
        tl::enums::updates::Difference::Empty(_)
    ));

    world.force_difference_too_long(alice);
    assert!(matches!(
        call(&mut world, alice, &req(state.pts)).unwrap(),
        tl::enums::updates::Difference::TooLong(_)
    ));
    let limited = f::updates::GetDifference {
        pts_total_limit: Some(2),
        ..req(state.pts)
    };
    assert!(matches!(
        call(&mut world, alice, &limited).unwrap(),
        tl::enums::updates::Difference::TooLong(_)
    ));
}

#[test]
fn channel_difference_pages_by_limit_and_can_be_too_long() {
    let (mut world, alice, bob) = alice_and_bob();
    let channel = world.create_supergroup(alice, "Big", &[bob]).unwrap();
    let start = world.channel(channel).unwrap().updates.pts;
    for i in 0..4 {
        world
            .send_text(alice, Peer::Channel(channel), &format!("c{i}"))
            .unwrap();
    }
    let req = |w: &World, pts, limit| f::updates::GetChannelDifference {
        force: false,
        channel: w.input_channel(channel, bob),
        filter: tl::enums::ChannelMessagesFilter::Empty,
        pts,
        limit,
    };
    let r = req(&world, start, 3);
    let tl::enums::updates::ChannelDifference::Difference(d) = call(&mut world, bob, &r).unwrap()
    else {
        panic!("a difference")
    };
    assert!(!d.r#final);
    assert_eq!((d.new_messages.len(), d.pts), (3, start + 3));
    let r = req(&world, d.pts, 3);
    let tl::enums::updates::ChannelDifference::Difference(d) = call(&mut world, bob, &r).unwrap()
    else {
        panic!("a difference")
    };
    assert!(d.r#final);
    assert_eq!(d.new_messages.len(), 1);
    let r = req(&world, d.pts, 3);
    assert!(matches!(
        call(&mut world, bob, &r).unwrap(),
        tl::enums::updates::ChannelDifference::Empty(_)
    ));
    world.force_channel_difference_too_long(channel);
    let r = req(&world, start, 3);
    let tl::enums::updates::ChannelDifference::TooLong(t) = call(&mut world, bob, &r).unwrap()
    else {
        panic!("too long")
    };
    assert_eq!(t.messages.len(), 6, "creation, bob joining and four posts");
}

#[test]
fn reactions_are_read_again_by_message_id() {
    let (mut world, alice, bob) = alice_and_bob();
    let plain = world
        .send_text(alice, Peer::User(bob), "nobody reacts")
        .unwrap();
    let liked = world.send_text(alice, Peer::User(bob), "liked").unwrap();
    let seen = world.last_message(bob, Peer::User(alice)).unwrap().id;
    world
        .react(bob, Peer::User(alice), seen, Some("👍"))
        .unwrap();
    let request = f::messages::GetMessagesReactions {
        peer: input_user(&world, bob, alice),
        id: vec![plain, liked, 9999],
    };
    let tl::enums::Updates::Updates(answer) = call(&mut world, alice, &request).unwrap() else {
        panic!("updates")
    };
    let summaries: Vec<(i32, usize)> = answer
        .updates
        .iter()
        .map(|update| match update {
            tl::enums::Update::MessageReactions(u) => {
                let tl::enums::MessageReactions::Reactions(r) = &u.reactions;
                (u.msg_id, r.recent_reactions.as_ref().map_or(0, Vec::len))
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        summaries,
        [(plain, 0), (liked, 1)],
        "unknown ids are left out"
    );
    assert!(
        answer
            .users
            .iter()
            .any(|u| matches!(u, tl::enums::User::User(u) if u.id == bob)),
        "the reactor comes with the answer"
    );
}

#[test]
fn edits_deletions_and_reactions_reach_every_copy() {
    let (mut world, alice, bob) = alice_and_bob();
    world
        .send_text(bob, Peer::User(bob), "offset bob's ids")
        .unwrap();
    let id = world.send_text(alice, Peer::User(bob), "helo").unwrap();
    let peer = input_user(&world, bob, alice);
    let edit = f::messages::EditMessage {
        no_webpage: false,
        invert_media: false,
        peer: peer.clone(),
        id,
        message: Some("hello".into()),
        media: None,
        reply_markup: None,
        entities: None,
        schedule_date: None,
        schedule_repeat_period: None,
        quick_reply_shortcut_id: None,
        rich_message: None,
    };
    call(&mut world, alice, &edit).unwrap();
    assert_eq!(
        call(&mut world, alice, &edit).unwrap_err().name,
        "MESSAGE_NOT_MODIFIED"
    );
    let seen = world.last_message(bob, Peer::User(alice)).unwrap();
    assert_eq!((seen.text.as_str(), seen.edited), ("hello", true));
    let not_mine = f::messages::EditMessage {
        peer: input_user(&world, alice, bob),
        id: seen.id,
        ..edit.clone()
    };
    assert_eq!(
        call(&mut world, bob, &not_mine).unwrap_err().name,
        "MESSAGE_AUTHOR_REQUIRED"
    );

    world
        .react(bob, Peer::User(alice), seen.id, Some("👍"))
        .unwrap();
    assert_eq!(
        world
            .last_message(alice, Peer::User(bob))
            .unwrap()
            .reactions,
        vec![(bob, "👍".to_string())]
    );

    let bob_pts = world.state(bob).pts;
    let affected = call(
        &mut world,
        alice,
        &f::messages::DeleteMessages {
            revoke: true,
            id: vec![id],
        },
    )
    .unwrap();
    let tl::enums::messages::AffectedMessages::Messages(affected) = affected;
    assert_eq!(affected.pts_count, 1);
    assert_eq!(world.state(bob).pts, bob_pts + 1);
    assert!(world.history(bob, Peer::User(alice)).is_empty());
    assert!(world.history(alice, Peer::User(bob)).is_empty());
}

#[test]
fn reading_moves_the_senders_outbox() {
    let (mut world, alice, bob) = alice_and_bob();
    let a1 = world.send_text(alice, Peer::User(bob), "one").unwrap();
    world.send_text(alice, Peer::User(bob), "two").unwrap();
    assert_eq!(world.unread_count(bob, Peer::User(alice)), 2);
    let mut rx = world.subscribe();
    let bob_id = world.last_message(bob, Peer::User(alice)).unwrap().id;
    let read = f::messages::ReadHistory {
        peer: input_user(&world, alice, bob),
        max_id: bob_id - 1,
    };
    call(&mut world, bob, &read).unwrap();
    assert_eq!(world.unread_count(bob, Peer::User(alice)), 1);
    assert_eq!(
        world
            .dialog_state(alice, Peer::User(bob))
            .read_outbox_max_id,
        a1
    );
    let pushes = drain(&mut rx);
    assert!(
        pushes.iter().any(|p| p.account == alice
            && matches!(&p.updates, tl::enums::Updates::Updates(u)
            if matches!(&u.updates[0], tl::enums::Update::ReadHistoryOutbox(o) if o.max_id == a1)))
    );
}

#[test]
fn upload_then_download_round_trips_bytes() {
    let (mut world, alice, bob) = alice_and_bob();
    let bytes: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    for (part, chunk) in bytes.chunks(1024).enumerate() {
        let req = f::upload::SaveFilePart {
            file_id: 7,
            file_part: part as i32,
            bytes: chunk.to_vec(),
        };
        assert!(call(&mut world, alice, &req).unwrap());
    }
    let media = tl::types::InputMediaUploadedDocument {
        nosound_video: false,
        force_file: true,
        spoiler: false,
        file: tl::types::InputFile {
            id: 7,
            parts: 3,
            name: "data.bin".into(),
            md5_checksum: String::new(),
        }
        .into(),
        thumb: None,
        mime_type: "application/octet-stream".into(),
        attributes: Vec::new(),
        stickers: None,
        video_cover: None,
        video_timestamp: None,
        ttl_seconds: None,
    };
    let upload = f::messages::UploadMedia {
        business_connection_id: None,
        peer: input_user(&world, bob, alice),
        media: media.into(),
    };
    let tl::enums::MessageMedia::Document(doc) = call(&mut world, alice, &upload).unwrap() else {
        panic!("a document")
    };
    let Some(tl::enums::Document::Document(doc)) = doc.document else {
        panic!("a document")
    };
    let mut downloaded = Vec::new();
    loop {
        let location = document_location(doc.id, doc.access_hash, doc.file_reference.clone());
        let req = get_file_request(location, downloaded.len() as i64, 1024);
        let tl::enums::upload::File::File(file) = call(&mut world, alice, &req).unwrap() else {
            panic!("file")
        };
        let last = file.bytes.len() < 1024;
        downloaded.extend(file.bytes);
        if last {
            break;
        }
    }
    assert_eq!(downloaded, bytes);
    // Another viewer's access hash does not open the document.
    let location = document_location(doc.id, doc.access_hash, Vec::new());
    let req = get_file_request(location, 0, 1024);
    assert_eq!(
        call(&mut world, bob, &req).unwrap_err().name,
        "LOCATION_INVALID"
    );
    let bad = f::upload::GetFile { limit: 1000, ..req };
    assert_eq!(
        call(&mut world, alice, &bad).unwrap_err().name,
        "LIMIT_INVALID"
    );
}

#[test]
fn dialogs_list_pinned_first_then_newest_and_page() {
    let mut world = World::new();
    let me = user(&mut world, "Me", "100");
    let others: Vec<UserId> = (0..5)
        .map(|i| user(&mut world, &format!("U{i}"), &format!("2{i}")))
        .collect();
    for &o in &others {
        world.send_text(o, Peer::User(me), "hi").unwrap();
    }
    world.set_dialog_pinned(me, Peer::User(others[0]), true);
    let req = |limit| f::messages::GetDialogs {
        exclude_pinned: false,
        folder_id: None,
        offset_date: 0,
        offset_id: 0,
        offset_peer: tl::enums::InputPeer::Empty,
        limit,
        hash: 0,
    };
    let tl::enums::messages::Dialogs::Dialogs(all) = call(&mut world, me, &req(100)).unwrap()
    else {
        panic!("all")
    };
    let order: Vec<i64> = all
        .dialogs
        .iter()
        .map(|d| match d {
            tl::enums::Dialog::Dialog(d) => match &d.peer {
                tl::enums::Peer::User(u) => u.user_id,
                _ => 0,
            },
            _ => 0,
        })
        .collect();
    assert_eq!(
        order,
        vec![others[0], others[4], others[3], others[2], others[1]]
    );
    assert_eq!(all.messages.len(), 5);
    let tl::enums::messages::Dialogs::Slice(first) = call(&mut world, me, &req(2)).unwrap() else {
        panic!("slice")
    };
    assert_eq!((first.count, first.dialogs.len()), (5, 2));
}

#[test]
fn migration_moves_members_to_a_supergroup() {
    let (mut world, alice, bob) = alice_and_bob();
    let chat = world.create_group(alice, "Small", &[bob]).unwrap();
    world.send_text(bob, Peer::Chat(chat), "before").unwrap();
    let channel = world.migrate_chat(Origin::control(alice), chat).unwrap();
    let c = world.channel(channel).unwrap();
    assert!(c.is_member(bob) && !c.broadcast);
    assert_eq!(world.chat(chat).unwrap().migrated_to, Some(channel));
    assert_eq!(
        world
            .send_text(bob, Peer::Chat(chat), "after")
            .unwrap_err()
            .name,
        "CHAT_ID_INVALID"
    );
    world
        .send_text(bob, Peer::Channel(channel), "after")
        .unwrap();
    let entries: Vec<Peer> = world
        .dialog_entries(alice)
        .into_iter()
        .map(|d| d.peer)
        .collect();
    assert_eq!(entries, vec![Peer::Channel(channel)]);
    let last = world.history(alice, Peer::Chat(chat)).pop().unwrap();
    assert_eq!(last.service.as_deref(), Some("ChatMigrateTo"));
}

#[test]
fn unknown_methods_are_left_to_the_protocol_layer() {
    let mut world = World::new();
    let alice = user(&mut world, "Alice", "100");
    let request = f::help::GetConfig {}.to_bytes();
    assert!(rpc::handle(&mut world, &ctx(alice), &request).is_none());
    assert!(rpc::handle(&mut world, &ctx(alice), &[1, 2]).is_none());
}

fn messages_of(result: tl::enums::messages::Messages) -> Vec<tl::types::Message> {
    message_list(result)
        .into_iter()
        .filter_map(|m| match m {
            tl::enums::Message::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn upload_photo(world: &mut World, account: UserId, file_id: i64) -> tl::enums::InputMedia {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x04\0\0\0\x03".to_vec();
    let part = f::upload::SaveFilePart {
        file_id,
        file_part: 0,
        bytes: png,
    };
    assert!(call(world, account, &part).unwrap());
    let file = tl::types::InputFile {
        id: file_id,
        parts: 1,
        name: "p.png".into(),
        md5_checksum: String::new(),
    };
    tl::types::InputMediaUploadedPhoto {
        spoiler: false,
        live_photo: false,
        file: file.into(),
        stickers: None,
        ttl_seconds: None,
        video: None,
    }
    .into()
}

#[test]
fn users_resolve_by_username_and_phone_with_the_callers_hash() {
    let (mut world, alice, bob) = alice_and_bob();
    world.add_contact(alice, bob);
    let photo = world
        .set_profile_photo(
            bob,
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x02".to_vec(),
        )
        .unwrap();

    let resolved = call(
        &mut world,
        alice,
        &f::contacts::ResolveUsername {
            username: "BOB".into(),
            referer: None,
        },
    )
    .unwrap();
    let tl::enums::contacts::ResolvedPeer::Peer(resolved) = resolved;
    let Some(tl::enums::User::User(u)) = resolved.users.first() else {
        panic!("bob")
    };
    assert_eq!(
        (u.id, u.access_hash),
        (bob, Some(world.user_access_hash(bob, alice)))
    );
    assert_eq!(u.phone.as_deref(), Some("200"), "contacts see the phone");
    let missing = call(
        &mut world,
        alice,
        &f::contacts::ResolveUsername {
            username: "nobody".into(),
            referer: None,
        },
    );
    assert_eq!(missing.unwrap_err().name, "USERNAME_NOT_OCCUPIED");
    let by_phone = call(
        &mut world,
        alice,
        &f::contacts::ResolvePhone {
            phone: "+200".into(),
        },
    )
    .unwrap();
    let tl::enums::contacts::ResolvedPeer::Peer(by_phone) = by_phone;
    assert!(matches!(by_phone.peer, tl::enums::Peer::User(ref p) if p.user_id == bob));

    let tl::enums::contacts::Contacts::Contacts(contacts) =
        call(&mut world, alice, &f::contacts::GetContacts { hash: 0 }).unwrap()
    else {
        panic!("contacts")
    };
    assert_eq!(contacts.contacts.len(), 1);

    let good: tl::enums::InputUser = tl::types::InputUser {
        user_id: bob,
        access_hash: world.user_access_hash(bob, alice),
    }
    .into();
    let bad: tl::enums::InputUser = tl::types::InputUser {
        user_id: bob,
        access_hash: 7,
    }
    .into();
    let users = call(
        &mut world,
        alice,
        &f::users::GetUsers {
            id: vec![good.clone(), bad.clone()],
        },
    )
    .unwrap();
    assert_eq!(users.len(), 1, "a wrong hash is left out");
    assert_eq!(
        call(&mut world, alice, &f::users::GetFullUser { id: bad })
            .unwrap_err()
            .name,
        "USER_ID_INVALID"
    );
    let tl::enums::users::UserFull::Full(full) = call(
        &mut world,
        alice,
        &f::users::GetFullUser { id: good.clone() },
    )
    .unwrap();
    let tl::enums::UserFull::Full(full) = full.full_user;
    assert!(matches!(full.profile_photo, Some(tl::enums::Photo::Photo(ref p)) if p.id == photo));

    let photos = call(
        &mut world,
        alice,
        &f::photos::GetUserPhotos {
            user_id: good,
            offset: 0,
            max_id: 0,
            limit: 10,
        },
    )
    .unwrap();
    let tl::enums::photos::Photos::Photos(photos) = photos else {
        panic!("all photos")
    };
    assert_eq!(photos.photos.len(), 1);
    let location = tl::types::InputPeerPhotoFileLocation {
        big: true,
        peer: input_user(&world, bob, alice),
        photo_id: photo,
    };
    let req = get_file_request(location, 0, 4096);
    let tl::enums::upload::File::File(file) = call(&mut world, alice, &req).unwrap() else {
        panic!("a file")
    };
    assert_eq!(file.bytes.len(), 24);
}

#[test]
fn albums_keep_one_grouped_id_and_forwards_carry_their_origin() {
    let (mut world, alice, bob) = alice_and_bob();
    let channel = world.create_supergroup(alice, "Big", &[bob]).unwrap();
    let to_bob = input_user(&world, bob, alice);
    let multi_media = (1..=2)
        .map(|i| {
            let media = upload_photo(&mut world, alice, 50 + i);
            tl::types::InputSingleMedia {
                media,
                random_id: 900 + i,
                message: format!("photo {i}"),
                entities: None,
            }
            .into()
        })
        .collect();
    let album = f::messages::SendMultiMedia {
        silent: false,
        background: false,
        clear_draft: false,
        noforwards: false,
        update_stickersets_order: false,
        invert_media: false,
        allow_paid_floodskip: false,
        peer: to_bob.clone(),
        reply_to: None,
        multi_media,
        schedule_date: None,
        send_as: None,
        quick_reply_shortcut: None,
        effect: None,
        allow_paid_stars: None,
    };
    let tl::enums::Updates::Updates(sent) = call(&mut world, alice, &album).unwrap() else {
        panic!("updates")
    };
    let ids: Vec<i32> = sent
        .updates
        .iter()
        .filter_map(|u| match u {
            tl::enums::Update::MessageId(m) => Some(m.id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    let seen = world.history(bob, Peer::User(alice));
    assert_eq!(seen.len(), 2);
    assert!(seen[0].grouped_id.is_some() && seen[0].grouped_id == seen[1].grouped_id);
    assert_eq!(seen[0].media.as_deref(), Some("photo"));

    let forward = f::messages::ForwardMessages {
        silent: false,
        background: false,
        with_my_score: false,
        drop_author: false,
        drop_media_captions: false,
        noforwards: false,
        allow_paid_floodskip: false,
        from_ephemeral: false,
        from_peer: to_bob,
        id: ids,
        random_id: vec![1, 2],
        to_peer: world.input_peer(Peer::Channel(channel), alice),
        top_msg_id: None,
        reply_to: None,
        schedule_date: None,
        schedule_repeat_period: None,
        send_as: None,
        quick_reply_shortcut: None,
        effect: None,
        video_timestamp: None,
        allow_paid_stars: None,
        suggested_post: None,
    };
    call(&mut world, alice, &forward).unwrap();
    let in_channel = world.history(bob, Peer::Channel(channel));
    let forwarded = &in_channel[in_channel.len() - 2..];
    assert!(forwarded
        .iter()
        .all(|m| m.fwd_from == Some(Peer::User(alice))));
    assert_eq!(forwarded[0].grouped_id, forwarded[1].grouped_id);
    assert_ne!(
        forwarded[0].grouped_id, seen[0].grouped_id,
        "a forwarded album gets a new id"
    );
}

#[test]
fn channel_invites_bans_and_leaving() {
    let (mut world, alice, bob) = alice_and_bob();
    let channel = world.create_channel(alice, "News", "about", true).unwrap();
    world
        .send_text(alice, Peer::Channel(channel), "post")
        .unwrap();
    let export = f::messages::ExportChatInvite {
        legacy_revoke_permanent: false,
        request_needed: false,
        peer: world.input_peer(Peer::Channel(channel), alice),
        expire_date: None,
        usage_limit: None,
        title: None,
        subscription_pricing: None,
    };
    let tl::enums::ExportedChatInvite::ChatInviteExported(invite) =
        call(&mut world, alice, &export).unwrap()
    else {
        panic!("an invite")
    };
    let hash = invite.link.rsplit('+').next().unwrap().to_owned();
    let bob_peer = world.input_peer(Peer::Channel(channel), bob);
    let history_req = |peer| history_request(peer, 10);
    assert_eq!(
        call(&mut world, bob, &history_req(bob_peer.clone()))
            .unwrap_err()
            .name,
        "CHANNEL_PRIVATE"
    );
    call(
        &mut world,
        bob,
        &f::messages::ImportChatInvite { hash: hash.clone() },
    )
    .unwrap();
    assert_eq!(
        call(&mut world, bob, &f::messages::ImportChatInvite { hash })
            .unwrap_err()
            .name,
        "USER_ALREADY_PARTICIPANT"
    );
    assert_eq!(
        messages_of(call(&mut world, bob, &history_req(bob_peer.clone())).unwrap())[0].message,
        "post"
    );
    assert_eq!(
        world.unread_count(bob, Peer::Channel(channel)),
        0,
        "joiners start with the history read"
    );

    let participants = |w: &mut World| {
        let req = f::channels::GetParticipants {
            channel: w.input_channel(channel, alice),
            filter: tl::enums::ChannelParticipantsFilter::ChannelParticipantsRecent,
            offset: 0,
            limit: 100,
            hash: 0,
        };
        match call(w, alice, &req).unwrap() {
            tl::enums::channels::ChannelParticipants::Participants(p) => p.count,
            tl::enums::channels::ChannelParticipants::NotModified => -1,
        }
    };
    assert_eq!(participants(&mut world), 2);
    let bob_input = world.input_peer(Peer::User(bob), alice);
    let mut kick = chats::no_banned_rights();
    kick.view_messages = true;
    let ban = f::channels::EditBanned {
        channel: world.input_channel(channel, alice),
        participant: bob_input,
        banned_rights: kick.into(),
    };
    call(&mut world, alice, &ban).unwrap();
    assert_eq!(participants(&mut world), 1);
    assert!(matches!(
        world.tl_chat(Peer::Channel(channel), bob),
        Some(tl::enums::Chat::ChannelForbidden(_))
    ));
    assert_eq!(
        call(&mut world, bob, &history_req(bob_peer))
            .unwrap_err()
            .name,
        "CHANNEL_PRIVATE"
    );
    let leave = f::channels::LeaveChannel {
        channel: world.input_channel(channel, alice),
    };
    call(&mut world, alice, &leave).unwrap();
    assert_eq!(
        participants_or_error(&mut world, alice, channel),
        "CHANNEL_PRIVATE"
    );
}

fn participants_or_error(world: &mut World, viewer: UserId, channel: ChannelId) -> String {
    let req = f::channels::GetParticipant {
        channel: world.input_channel(channel, viewer),
        participant: tl::enums::InputPeer::PeerSelf,
    };
    call(world, viewer, &req)
        .err()
        .map(|e| e.name)
        .unwrap_or_default()
}

#[test]
fn basic_group_management_posts_service_messages() {
    let (mut world, alice, bob) = alice_and_bob();
    let carol = user(&mut world, "Carol", "300");
    let chat = world.create_group(alice, "Team", &[bob]).unwrap();
    let carol_input = tl::types::InputUser {
        user_id: carol,
        access_hash: world.user_access_hash(carol, alice),
    };
    let add = f::messages::AddChatUser {
        chat_id: chat,
        user_id: carol_input.clone().into(),
        fwd_limit: 0,
    };
    call(&mut world, alice, &add).unwrap();
    call(
        &mut world,
        bob,
        &f::messages::EditChatTitle {
            chat_id: chat,
            title: "Team 2".into(),
        },
    )
    .unwrap();
    let services: Vec<_> = world
        .history(carol, Peer::Chat(chat))
        .into_iter()
        .filter_map(|m| m.service)
        .collect();
    assert_eq!(
        services,
        ["ChatAddUser", "ChatEditTitle"],
        "carol sees what happened since she joined"
    );
    assert_eq!(world.chat(chat).unwrap().title, "Team 2");

    let tl::enums::messages::ChatFull::Full(full) =
        call(&mut world, bob, &f::messages::GetFullChat { chat_id: chat }).unwrap();
    let tl::enums::ChatFull::Full(full) = full.full_chat else {
        panic!("a basic group")
    };
    let tl::enums::ChatParticipants::Participants(p) = full.participants else {
        panic!("bob is a member")
    };
    assert_eq!(p.participants.len(), 3);

    // Bob must use his own access hash for Carol.
    let bobs_carol = tl::types::InputUser {
        user_id: carol,
        access_hash: world.user_access_hash(carol, bob),
    };
    let not_yours = f::messages::DeleteChatUser {
        revoke_history: false,
        chat_id: chat,
        user_id: carol_input.clone().into(),
    };
    assert_eq!(
        call(&mut world, bob, &not_yours).unwrap_err().name,
        "USER_ID_INVALID"
    );
    let by_bob = f::messages::DeleteChatUser {
        user_id: bobs_carol.into(),
        ..not_yours
    };
    assert_eq!(
        call(&mut world, bob, &by_bob).unwrap_err().name,
        "CHAT_ADMIN_REQUIRED"
    );
    let kick = f::messages::DeleteChatUser {
        revoke_history: false,
        chat_id: chat,
        user_id: carol_input.into(),
    };
    call(&mut world, alice, &kick).unwrap();
    assert!(matches!(
        world.tl_chat(Peer::Chat(chat), carol),
        Some(tl::enums::Chat::Forbidden(_))
    ));
    assert_eq!(
        world
            .last_message(carol, Peer::Chat(chat))
            .unwrap()
            .service
            .as_deref(),
        Some("ChatDeleteUser")
    );
}

#[test]
fn typing_pins_and_search() {
    let (mut world, alice, bob) = alice_and_bob();
    world
        .send_text(bob, Peer::User(alice), "find the needle here")
        .unwrap();
    world.send_text(bob, Peer::User(alice), "nothing").unwrap();
    let mut rx = world.subscribe();
    let to_bob = input_user(&world, bob, alice);
    let typing = f::messages::SetTyping {
        peer: to_bob.clone(),
        top_msg_id: None,
        action: tl::enums::SendMessageAction::SendMessageTypingAction,
    };
    assert!(call(&mut world, alice, &typing).unwrap());
    let pushes = drain(&mut rx);
    assert!(
        matches!(&pushes[..], [Push { account, updates: tl::enums::Updates::UpdateShort(u), .. }]
        if *account == bob && matches!(&u.update, tl::enums::Update::UserTyping(t) if t.user_id == alice))
    );

    let search = f::messages::Search {
        peer: to_bob.clone(),
        q: "NEEDLE".into(),
        from_id: None,
        saved_peer_id: None,
        saved_reaction: None,
        top_msg_id: None,
        filter: tl::enums::MessagesFilter::InputMessagesFilterEmpty,
        min_date: 0,
        max_date: 0,
        offset_id: 0,
        add_offset: 0,
        limit: 10,
        max_id: 0,
        min_id: 0,
        hash: 0,
    };
    let found = messages_of(call(&mut world, alice, &search).unwrap());
    assert_eq!(found.len(), 1);
    let needle = found[0].id;

    let pin = f::messages::UpdatePinnedMessage {
        silent: false,
        unpin: false,
        pm_oneside: false,
        peer: to_bob,
        id: needle,
    };
    let tl::enums::Updates::Updates(result) = call(&mut world, alice, &pin).unwrap() else {
        panic!("updates")
    };
    assert!(result.updates.iter().any(
        |u| matches!(u, tl::enums::Update::PinnedMessages(p) if p.messages == [needle] && p.pinned)
    ));
    assert!(
        result
            .updates
            .iter()
            .any(|u| matches!(u, tl::enums::Update::NewMessage(_))),
        "a pin service message"
    );
    let bobs = world.history(bob, Peer::User(alice));
    assert!(bobs.iter().any(|m| m.pinned && m.text.contains("needle")));
    assert_eq!(bobs.last().unwrap().service.as_deref(), Some("PinMessage"));

    let lookup = f::messages::GetMessages {
        id: vec![
            tl::types::InputMessageId { id: needle }.into(),
            tl::types::InputMessageId { id: 999 }.into(),
        ],
    };
    let tl::enums::messages::Messages::Messages(got) = call(&mut world, alice, &lookup).unwrap()
    else {
        panic!("messages")
    };
    assert!(matches!(got.messages[1], tl::enums::Message::Empty(_)));
}

#[test]
fn malformed_requests_are_errors_not_panics() {
    use grammers_tl_types::Identifiable;
    let (mut world, alice, bob) = alice_and_bob();
    world.create_supergroup(alice, "Big", &[bob]).unwrap();
    world.send_text(bob, Peer::User(alice), "hi").unwrap();
    let ids = [
        f::updates::GetDifference::CONSTRUCTOR_ID,
        f::updates::GetChannelDifference::CONSTRUCTOR_ID,
        f::messages::GetHistory::CONSTRUCTOR_ID,
        f::messages::GetDialogs::CONSTRUCTOR_ID,
        f::messages::SendMessage::CONSTRUCTOR_ID,
        f::messages::SendMultiMedia::CONSTRUCTOR_ID,
        f::messages::ForwardMessages::CONSTRUCTOR_ID,
        f::messages::Search::CONSTRUCTOR_ID,
        f::messages::DeleteMessages::CONSTRUCTOR_ID,
        f::channels::GetParticipants::CONSTRUCTOR_ID,
        f::upload::GetFile::CONSTRUCTOR_ID,
        f::upload::SaveFilePart::CONSTRUCTOR_ID,
        f::photos::GetUserPhotos::CONSTRUCTOR_ID,
    ];
    // A small deterministic generator: the same garbage on every run.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for id in ids {
        for len in [0usize, 3, 8, 16, 40, 120] {
            let mut request = id.to_le_bytes().to_vec();
            request.extend((0..len).map(|_| next() as u8));
            let answer = rpc::handle(&mut world, &ctx(alice), &request);
            assert!(answer.is_some(), "{id:#x} is a world method");
        }
    }
    // Well-formed requests with hostile numbers.
    let history = f::messages::GetHistory {
        peer: input_user(&world, bob, alice),
        offset_id: i32::MIN,
        offset_date: i32::MAX,
        add_offset: i32::MIN,
        limit: i32::MAX,
        max_id: -5,
        min_id: i32::MAX,
        hash: 0,
    };
    assert!(call(&mut world, alice, &history).is_ok());
    let file = get_file_request(
        document_location(1, 1, Vec::new()),
        i64::MAX - 1023,
        i32::MIN,
    );
    assert!(call(&mut world, alice, &file).is_err());
}

#[test]
fn mentions_are_stored_with_plain_ids_and_flag_the_mentioned() {
    let (mut world, alice, bob) = alice_and_bob();
    let carol = user(&mut world, "Carol", "300");
    let chat = world.create_group(alice, "Team", &[bob, carol]).unwrap();
    let mention: tl::enums::MessageEntity = tl::types::InputMessageEntityMentionName {
        offset: 0,
        length: 3,
        user_id: tl::types::InputUser {
            user_id: bob,
            access_hash: world.user_access_hash(bob, alice),
        }
        .into(),
    }
    .into();
    let request = send_message_request(
        tl::types::InputPeerChat { chat_id: chat }.into(),
        "Bob, look",
        1,
        Some(vec![mention]),
    );
    let mut rx = world.subscribe();
    call(&mut world, alice, &request).unwrap();
    let flags: Vec<(UserId, bool, bool)> = drain(&mut rx)
        .into_iter()
        .filter_map(|p| match p.updates {
            tl::enums::Updates::UpdateShortChatMessage(m) => Some((
                p.account,
                m.mentioned,
                m.entities.unwrap_or_default().iter().any(
                    |e| matches!(e, tl::enums::MessageEntity::MentionName(n) if n.user_id == bob),
                ),
            )),
            _ => None,
        })
        .collect();
    assert!(flags.contains(&(bob, true, true)), "{flags:?}");
    assert!(flags.contains(&(carol, false, true)), "{flags:?}");

    // A reply mentions the author of the replied message.
    let bobs_id = world.last_message(bob, Peer::Chat(chat)).unwrap().id;
    world
        .send_message(
            bob,
            Peer::Chat(chat),
            OutgoingMessage {
                reply_to: Some(bobs_id),
                ..OutgoingMessage::text("ok")
            },
        )
        .unwrap();
    let alices = world.last_message(alice, Peer::Chat(chat)).unwrap();
    let Some(key) = world.message_key(alice, Peer::Chat(chat), alices.id) else {
        panic!("the reply")
    };
    assert!(world.mentions(world.message(key).unwrap(), alice));

    world.rename_user(carol, "Caroline", None).unwrap();
    let renamed = drain(&mut rx);
    assert!(renamed.iter().any(|p| p.account == alice
        && matches!(&p.updates, tl::enums::Updates::Updates(u)
            if matches!(&u.updates[0], tl::enums::Update::UserName(n) if n.first_name == "Caroline"))));
}

#[test]
fn photo_sizes_are_served_by_type() {
    let (mut world, alice, bob) = alice_and_bob();
    let size = |kind: &str, w, bytes: &[u8]| files::PhotoSize {
        kind: kind.into(),
        w,
        h: w,
        bytes: bytes.to_vec(),
    };
    let media = MediaSpec::PhotoSizes {
        sizes: vec![size("m", 320, b"small"), size("y", 1280, b"large photo")],
    };
    world
        .send_message(
            bob,
            Peer::User(alice),
            OutgoingMessage {
                media: Some(media),
                ..OutgoingMessage::default()
            },
        )
        .unwrap();
    let to_bob = input_user(&world, bob, alice);
    let tl::enums::messages::Messages::Messages(got) =
        call(&mut world, alice, &history_request(to_bob, 1)).unwrap()
    else {
        panic!("messages")
    };
    let tl::enums::Message::Message(m) = &got.messages[0] else {
        panic!("a message")
    };
    let Some(tl::enums::MessageMedia::Photo(tl::types::MessageMediaPhoto {
        photo: Some(tl::enums::Photo::Photo(photo)),
        ..
    })) = &m.media
    else {
        panic!("a photo")
    };
    assert_eq!(photo.sizes.len(), 2);
    for (kind, expected) in [("m", &b"small"[..]), ("y", &b"large photo"[..])] {
        let location = tl::types::InputPhotoFileLocation {
            id: photo.id,
            access_hash: photo.access_hash,
            file_reference: photo.file_reference.clone(),
            thumb_size: kind.into(),
        };
        let req = get_file_request(location, 0, 4096);
        let tl::enums::upload::File::File(file) = call(&mut world, alice, &req).unwrap() else {
            panic!("a file")
        };
        assert_eq!(file.bytes, expected);
    }
}

#[test]
fn edit_chat_about_checks_rights_and_tells_every_member() {
    let mut world = World::new();
    let alice = user(&mut world, "Alice", "100");
    let bob = user(&mut world, "Bob", "200");
    let carol = user(&mut world, "Carol", "300");
    let group = world.create_group(alice, "G", &[bob]).unwrap();
    let channel = world.create_channel(alice, "C", "", true).unwrap();
    world
        .channel_invite(Origin::control(alice), channel, &[bob])
        .unwrap();
    let mut rx = world.subscribe();
    let peer = world.input_peer(Peer::Chat(group), bob);
    let about = |about: &str, peer: &tl::enums::InputPeer| f::messages::EditChatAbout {
        peer: peer.clone(),
        about: about.into(),
    };
    assert!(call(&mut world, bob, &about("Walks", &peer)).unwrap());
    assert_eq!(world.chat(group).unwrap().about, "Walks");
    let told: Vec<UserId> = drain(&mut rx)
        .into_iter()
        .filter(|p| {
            matches!(&p.updates, tl::enums::Updates::Updates(u)
                if matches!(u.updates[..], [tl::enums::Update::Chat(ref c)] if c.chat_id == group))
        })
        .map(|p| p.account)
        .collect();
    assert_eq!(told.len(), 2, "both members: {told:?}");
    assert!(told.contains(&alice) && told.contains(&bob));
    assert_eq!(
        call(&mut world, bob, &about("Walks", &peer)).unwrap_err(),
        RpcError::bad_request("CHAT_ABOUT_NOT_MODIFIED")
    );
    assert!(call(&mut world, carol, &about("x", &peer)).is_err());
    // In a channel only admins with the change-info right may.
    let channel_peer = world.input_peer(Peer::Channel(channel), bob);
    assert_eq!(
        call(&mut world, bob, &about("News", &channel_peer)).unwrap_err(),
        RpcError::bad_request("CHAT_ADMIN_REQUIRED")
    );
    let channel_peer = world.input_peer(Peer::Channel(channel), alice);
    assert!(call(&mut world, alice, &about("News", &channel_peer)).unwrap());
    assert_eq!(world.channel(channel).unwrap().about, "News");
}

#[test]
fn announced_admin_changes_reach_every_member() {
    let mut world = World::new();
    let alice = user(&mut world, "Alice", "100");
    let bob = user(&mut world, "Bob", "200");
    let group = world.create_group(alice, "G", &[bob]).unwrap();
    let mut rx = world.subscribe();
    world.set_chat_admin_announced(group, bob, true).unwrap();
    assert!(world.chat(group).unwrap().member(bob).unwrap().admin);
    let told: Vec<(UserId, bool)> = drain(&mut rx)
        .into_iter()
        .filter_map(|p| match &p.updates {
            tl::enums::Updates::Updates(u) => match &u.updates[..] {
                [tl::enums::Update::ChatParticipantAdmin(a)] if a.user_id == bob => {
                    Some((p.account, a.is_admin))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().all(|(_, admin)| *admin));
    assert!(world.set_chat_admin_announced(group, 999, true).is_err());
}

#[test]
fn media_without_files_survives_serialization() {
    let mut world = World::new();
    let specs = vec![
        MediaSpec::Location {
            lat: 1.5,
            long: 2.5,
        },
        MediaSpec::Contact {
            phone: "1555".into(),
            first_name: "A".into(),
            last_name: "B".into(),
        },
        MediaSpec::Poll {
            question: "Q?".into(),
            answers: vec!["x".into(), "y".into()],
            votes: vec![2, 1],
        },
        MediaSpec::Dice {
            emoticon: "🎲".into(),
            value: 3,
        },
        MediaSpec::Game {
            title: "G".into(),
            description: "d".into(),
        },
    ];
    for spec in specs {
        let media = world.store_media(spec);
        let tl_media = world.tl_media(media, 1);
        let bytes = tl_media.to_bytes();
        let back = tl::enums::MessageMedia::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{tl_media:?}: {e}"));
        assert_eq!(back, tl_media);
    }
}

#[test]
fn signed_channel_posts_carry_their_authors_name() {
    let (mut world, alice, bob) = alice_and_bob();
    let channel = world.create_channel(alice, "News", "", true).unwrap();
    world
        .channel_invite(Origin::control(alice), channel, &[bob])
        .unwrap();
    world
        .send_text(alice, Peer::Channel(channel), "unsigned")
        .unwrap();
    world.set_channel_signatures(channel, true).unwrap();
    world
        .send_text(alice, Peer::Channel(channel), "signed")
        .unwrap();
    let peer = world.input_peer(Peer::Channel(channel), bob);
    let posts: Vec<(String, Option<String>, bool)> =
        message_list(call(&mut world, bob, &history_request(peer, 10)).unwrap())
            .into_iter()
            .filter_map(|m| match m {
                tl::enums::Message::Message(m) => {
                    Some((m.message, m.post_author, m.post && m.from_id.is_none()))
                }
                _ => None,
            })
            .collect();
    assert_eq!(
        posts,
        vec![
            ("signed".to_owned(), Some("Alice".to_owned()), true),
            ("unsigned".to_owned(), None, true),
        ]
    );
    let supergroup = world.create_supergroup(alice, "Talk", &[bob]).unwrap();
    assert_eq!(
        world
            .set_channel_signatures(supergroup, true)
            .unwrap_err()
            .name,
        "CHANNEL_INVALID"
    );
}
