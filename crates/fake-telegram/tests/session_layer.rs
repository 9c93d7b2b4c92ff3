//! The session layer against grammers' own MTProto implementation (the one
//! inside its sender), driven by hand over TCP: the session start with its
//! salts, containers, gzip and ping, which the high-level client only uses
//! now and then.

use std::collections::HashMap;
use std::time::Duration;

use fake_telegram::FakeTelegram;
use grammers_crypto::DequeBuffer;
use grammers_mtproto::mtp::{Deserialization, Encrypted, Mtp};
use grammers_mtproto::transport::{Full, Transport};
use grammers_mtproto::MsgId;
use grammers_tl_types::{self as tl, Deserializable, Serializable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bare MTProto client: grammers' `Encrypted` and `Full` over a socket.
struct RawClient {
    stream: TcpStream,
    mtp: Encrypted,
    transport: Full,
    read_buffer: Vec<u8>,
}

impl RawClient {
    /// Connects and completes the session start as grammers' sender does:
    /// the fake announces a new session with a server salt, after which the
    /// client fetches future salts before sending anything else.
    async fn connect(fake: &FakeTelegram, auth_key: [u8; 256]) -> Self {
        let mut client = Self {
            stream: TcpStream::connect(fake.addr()).await.unwrap(),
            mtp: Encrypted::build().finish(auth_key),
            transport: Full::new(),
            read_buffer: Vec::new(),
        };
        let first = client
            .send(&[tl::functions::Ping { ping_id: 0 }.to_bytes()])
            .await;
        client.results(&first).await;
        // The next push asks for salts first and holds the request back.
        let ping = tl::functions::Ping { ping_id: 1 }.to_bytes();
        let mut buffer = DequeBuffer::with_capacity(1024, 64);
        assert!(
            client.mtp.push(&mut buffer, &ping).is_none(),
            "salts requested first"
        );
        client.write(buffer).await;
        let ping_id = loop {
            client.read_packet().await;
            let mut buffer = DequeBuffer::with_capacity(1024, 64);
            if let Some(id) = client.mtp.push(&mut buffer, &ping) {
                client.write(buffer).await;
                break id;
            }
        };
        client.results(&[ping_id]).await;
        client
    }

    async fn write(&mut self, mut buffer: DequeBuffer<u8>) {
        self.mtp.finalize(&mut buffer);
        self.transport.pack(&mut buffer);
        self.stream.write_all(buffer.as_ref()).await.unwrap();
    }

    /// Reads one chunk from the socket and returns what it decoded.
    async fn read_packet(&mut self) -> Vec<Deserialization> {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
            .await
            .expect("answer within 5 s")
            .unwrap();
        assert!(n > 0, "the fake closed the connection");
        self.read_buffer.extend_from_slice(&chunk[..n]);
        let mut decoded = Vec::new();
        while let Ok(unpacked) = self.transport.unpack(&mut self.read_buffer) {
            let mut payload = self.read_buffer[unpacked.data_range.clone()].to_vec();
            self.read_buffer.drain(..unpacked.next_offset);
            decoded.extend(self.mtp.deserialize(&mut payload).unwrap());
        }
        decoded
    }

    /// Sends `requests` in one packet (a container when more than one).
    async fn send(&mut self, requests: &[Vec<u8>]) -> Vec<MsgId> {
        let mut buffer = DequeBuffer::with_capacity(1 << 16, 64);
        let ids = requests
            .iter()
            .map(|r| {
                self.mtp
                    .push(&mut buffer, r)
                    .expect("room in the container")
            })
            .collect();
        self.write(buffer).await;
        ids
    }

    /// Reads packets until every id in `ids` got a result; returns them.
    async fn results(
        &mut self,
        ids: &[MsgId],
    ) -> HashMap<MsgId, Result<Vec<u8>, tl::types::RpcError>> {
        let mut results = HashMap::new();
        while ids.iter().any(|id| !results.contains_key(id)) {
            for item in self.read_packet().await {
                match item {
                    Deserialization::RpcResult(r) => {
                        results.insert(r.msg_id, Ok(r.body));
                    }
                    Deserialization::RpcError(e) => {
                        results.insert(e.msg_id, Err(e.error));
                    }
                    Deserialization::BadMessage(b) => panic!("bad message {}", b.description()),
                    Deserialization::Failure(f) => panic!("undecodable answer: {:?}", f.error),
                    Deserialization::OwnUpdate { .. } | Deserialization::Update(_) => {}
                }
            }
        }
        results
    }
}

fn wrapped_get_config() -> Vec<u8> {
    tl::functions::InvokeWithLayer {
        layer: tl::LAYER,
        query: tl::functions::InitConnection {
            api_id: 1,
            device_model: "raw".into(),
            system_version: "test".into(),
            app_version: "0".into(),
            system_lang_code: "en".into(),
            lang_pack: String::new(),
            lang_code: "en".into(),
            proxy: None,
            params: None,
            query: tl::functions::help::GetConfig {},
        },
    }
    .to_bytes()
}

#[tokio::test]
async fn container_with_ping_salts_and_a_call() {
    let fake = FakeTelegram::start().await;
    let mut client = RawClient::connect(&fake, fake.new_auth_key()).await;
    let ids = client
        .send(&[
            tl::functions::Ping { ping_id: 77 }.to_bytes(),
            tl::functions::GetFutureSalts { num: 3 }.to_bytes(),
            wrapped_get_config(),
        ])
        .await;
    let results = client.results(&ids).await;

    let tl::enums::Pong::Pong(pong) =
        tl::enums::Pong::from_bytes(results[&ids[0]].as_ref().unwrap()).unwrap();
    assert_eq!(pong.ping_id, 77);
    let tl::enums::FutureSalts::Salts(salts) =
        tl::enums::FutureSalts::from_bytes(results[&ids[1]].as_ref().unwrap()).unwrap();
    assert_eq!(salts.salts.0.len(), 3);
    assert!(tl::enums::Config::from_bytes(results[&ids[2]].as_ref().unwrap()).is_ok());
}

#[tokio::test]
async fn gzipped_request_is_understood() {
    let fake = FakeTelegram::start().await;
    let mut client = RawClient::connect(&fake, fake.new_auth_key()).await;
    // Long enough for grammers to gzip it (it compresses from 512 bytes on).
    let phone = "1".repeat(4000);
    let send_code = tl::functions::auth::SendCode {
        phone_number: phone,
        api_id: 1,
        api_hash: "hash".into(),
        settings: tl::enums::CodeSettings::Settings(tl::types::CodeSettings {
            allow_flashcall: false,
            current_number: false,
            allow_app_hash: false,
            allow_missed_call: false,
            allow_firebase: false,
            unknown_number: false,
            logout_tokens: None,
            token: None,
            app_sandbox: None,
        }),
    };
    let ids = client.send(&[send_code.to_bytes()]).await;
    let results = client.results(&ids).await;
    let error = results[&ids[0]].as_ref().unwrap_err();
    assert_eq!(error.error_message, "PHONE_NUMBER_INVALID");
    assert_eq!(fake.call_count("auth.sendCode"), 1);
}

#[tokio::test]
async fn many_exchanges_on_one_session() {
    let fake = FakeTelegram::start().await;
    let mut client = RawClient::connect(&fake, fake.new_auth_key()).await;
    // grammers itself checks the session id of every answer (and aborts on a
    // mismatch); many answers in a row must all pass.
    for _ in 0..20 {
        let ids = client
            .send(&[
                wrapped_get_config(),
                tl::functions::Ping { ping_id: 1 }.to_bytes(),
            ])
            .await;
        let results = client.results(&ids).await;
        assert_eq!(results.len(), 2);
    }
    assert_eq!(fake.call_count("help.getConfig"), 20);
}
