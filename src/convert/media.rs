//! Media metadata between Telegram and Matrix: what a Telegram photo or
//! document is (kind, name, MIME type, size, dimensions, duration, voice
//! waveform) and the Matrix event content it becomes; readable text for
//! media Matrix has no event for (contacts, polls, dice, games, venues);
//! and the reverse reading of a Matrix media event into what Telegram needs
//! to send it (document attributes, photo or file, location).
//!
//! Pure and free of Telegram's wire types: the Telegram adapter reads
//! photos, documents and the other media into the plain descriptions here
//! ([`DocumentInfo`], [`PhotoSizeInfo`], [`Contact`], [`Poll`], …) and turns
//! [`DocAttribute`]s back into its own types. It never downloads, uploads or
//! looks anything up. Event contents
//! are built as JSON because the Matrix fields bridged media needs (voice
//! messages, captions, looping GIFs) are partly unstable extensions that
//! typed event structs drop.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::to_matrix::MatrixText;

/// MIME type of Telegram's animated (Lottie) stickers.
pub const ANIMATED_STICKER_MIME: &str = "application/x-tgsticker";

/// Telegram's caption limit for ordinary accounts, in UTF-16 units.
pub const TELEGRAM_CAPTION_LIMIT: usize = 1024;

/// Largest photo Telegram accepts as a photo (bigger images go as files).
pub const TELEGRAM_PHOTO_LIMIT: u64 = 10 * 1000 * 1000;

/// What a Telegram file is, as far as the Matrix event type is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A compressed photo.
    Photo,
    /// Any other file.
    File,
    /// A video.
    Video,
    /// A round video message.
    VideoNote,
    /// A silent looping MP4: what Telegram shows as a GIF.
    Animation,
    /// A voice note.
    Voice,
    /// A music file.
    Audio,
    /// A sticker with its emoji.
    Sticker {
        /// The emoji the sticker stands for.
        emoji: String,
    },
}

/// One Telegram photo size or document, described for Matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramFile {
    /// What it is.
    pub kind: FileKind,
    /// The file name Telegram carries, if any.
    pub file_name: Option<String>,
    /// The MIME type.
    pub mime_type: String,
    /// Size in bytes, when Telegram says.
    pub size: Option<u64>,
    /// Width and height in pixels.
    pub dimensions: Option<(u32, u32)>,
    /// Playing time in milliseconds.
    pub duration_ms: Option<u64>,
    /// A voice note's waveform as Telegram packs it (5 bits a sample).
    pub waveform: Option<Vec<u8>>,
    /// A music file's title.
    pub title: Option<String>,
    /// A music file's performer.
    pub performer: Option<String>,
}

/// The photo size the bridge downloads: the largest one served as a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenPhotoSize {
    /// Telegram's size letter, for the file location.
    pub size_type: String,
    /// The photo as Matrix sees it.
    pub file: TelegramFile,
}

/// Which Matrix event type a bridged message uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEventType {
    /// `m.room.message`.
    Message,
    /// `m.sticker`.
    Sticker,
}

impl MediaEventType {
    /// The event type string.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaEventType::Message => "m.room.message",
            MediaEventType::Sticker => "m.sticker",
        }
    }
}

/// A Matrix event for a Telegram message with media.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixMedia {
    /// The event type.
    pub event_type: MediaEventType,
    /// The event content.
    pub content: Value,
}

/// One attribute of a Telegram document, as far as the bridge reads or
/// writes it (the Telegram adapter drops the others).
#[derive(Debug, Clone, PartialEq)]
pub enum DocAttribute {
    /// The file name.
    FileName(String),
    /// An image's size in pixels.
    ImageSize {
        /// Width.
        w: i32,
        /// Height.
        h: i32,
    },
    /// An animated (GIF-like) file.
    Animated,
    /// A sticker with the emoji it stands for.
    Sticker {
        /// The emoji.
        alt: String,
    },
    /// A video.
    Video {
        /// Width.
        w: i32,
        /// Height.
        h: i32,
        /// Playing time in seconds.
        duration: f64,
        /// A round video message.
        round: bool,
        /// Playable while it downloads.
        supports_streaming: bool,
    },
    /// A voice note or music file.
    Audio {
        /// A voice note rather than music.
        voice: bool,
        /// Playing time in whole seconds.
        duration: i32,
        /// A song's title.
        title: Option<String>,
        /// A song's performer.
        performer: Option<String>,
        /// A voice note's waveform, packed as Telegram packs it.
        waveform: Option<Vec<u8>>,
    },
}

/// A Telegram document as its metadata describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInfo {
    /// The MIME type Telegram gives (may be empty).
    pub mime_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Its attributes, in Telegram's order (later ones refine earlier).
    pub attributes: Vec<DocAttribute>,
}

/// Describes a Telegram document. `voice` and `round` are the flags of the
/// message media that carried it.
pub fn document_file(doc: &DocumentInfo, voice: bool, round: bool) -> TelegramFile {
    use DocAttribute as A;
    let mut file = TelegramFile {
        kind: FileKind::File,
        file_name: None,
        mime_type: if doc.mime_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            doc.mime_type.clone()
        },
        size: u64::try_from(doc.size).ok(),
        dimensions: None,
        duration_ms: None,
        waveform: None,
        title: None,
        performer: None,
    };
    let mut animated = false;
    let mut sticker = None;
    let mut video = None;
    let mut audio = None;
    for attribute in &doc.attributes {
        match attribute {
            A::FileName(name) if !name.is_empty() => file.file_name = Some(name.clone()),
            A::FileName(_) => {}
            A::ImageSize { w, h } => file.dimensions = dimensions(*w, *h),
            A::Animated => animated = true,
            A::Sticker { alt } => sticker = Some(alt.clone()),
            A::Video {
                w,
                h,
                duration,
                round,
                ..
            } => {
                file.dimensions = dimensions(*w, *h).or(file.dimensions);
                file.duration_ms = seconds_to_ms(*duration);
                video = Some(*round);
            }
            A::Audio {
                voice,
                duration,
                title,
                performer,
                waveform,
            } => {
                file.duration_ms = seconds_to_ms(f64::from(*duration));
                file.title = title.clone().filter(|t| !t.is_empty());
                file.performer = performer.clone().filter(|p| !p.is_empty());
                file.waveform = waveform.clone().filter(|w| !w.is_empty());
                audio = Some(*voice);
            }
        }
    }
    file.kind = match (sticker, video, audio) {
        (Some(emoji), _, _) => FileKind::Sticker { emoji },
        (None, Some(true), _) => FileKind::VideoNote,
        (None, Some(false), _) if round => FileKind::VideoNote,
        (None, Some(false), _) if animated || doc.mime_type == "image/gif" => FileKind::Animation,
        (None, Some(false), _) => FileKind::Video,
        (None, None, Some(true)) => FileKind::Voice,
        (None, None, Some(false)) if voice => FileKind::Voice,
        (None, None, Some(false)) => FileKind::Audio,
        (None, None, None) if voice => FileKind::Voice,
        (None, None, None) if doc.mime_type == "image/gif" => FileKind::Animation,
        (None, None, None) => FileKind::File,
    };
    file
}

/// One downloadable size of a Telegram photo (the adapter leaves out the
/// inline thumbnails that are not files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoSizeInfo {
    /// Telegram's size letter.
    pub size_type: String,
    /// Width in pixels.
    pub w: i32,
    /// Height in pixels.
    pub h: i32,
    /// Bytes (a progressive JPEG's largest scan).
    pub size: i64,
}

/// Picks the largest downloadable size of a Telegram photo (Telegram keeps
/// no original, only sizes); `None` when it has none.
pub fn photo_file(sizes: &[PhotoSizeInfo]) -> Option<ChosenPhotoSize> {
    let best = sizes
        .iter()
        .max_by_key(|s| (i64::from(s.w) * i64::from(s.h), s.size))?;
    Some(ChosenPhotoSize {
        size_type: best.size_type.clone(),
        file: TelegramFile {
            kind: FileKind::Photo,
            file_name: None,
            mime_type: "image/jpeg".to_owned(),
            size: u64::try_from(best.size).ok().filter(|s| *s > 0),
            dimensions: dimensions(best.w, best.h),
            duration_ms: None,
            waveform: None,
            title: None,
            performer: None,
        },
    })
}

fn dimensions(w: i32, h: i32) -> Option<(u32, u32)> {
    match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Some((w, h)),
        _ => None,
    }
}

fn seconds_to_ms(seconds: f64) -> Option<u64> {
    (seconds.is_finite() && seconds > 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// The name a file is shown and uploaded under: Telegram's own, else one
/// made from what it is, with an extension matching its MIME type.
pub fn file_name(file: &TelegramFile) -> String {
    if let Some(name) = &file.file_name {
        return name.clone();
    }
    let extension = extension_for(&file.mime_type);
    let stem = match &file.kind {
        FileKind::Photo => "photo",
        FileKind::File => "file",
        FileKind::Video | FileKind::VideoNote => "video",
        FileKind::Animation => "animation",
        FileKind::Voice => "voice",
        FileKind::Audio => {
            return match (&file.performer, &file.title) {
                (Some(performer), Some(title)) => format!("{performer} - {title}.{extension}"),
                (None, Some(title)) => format!("{title}.{extension}"),
                _ => format!("audio.{extension}"),
            }
        }
        FileKind::Sticker { .. } => "sticker",
    };
    format!("{stem}.{extension}")
}

/// A file extension for the MIME types Telegram media commonly has.
fn extension_for(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/x-m4a" => "m4a",
        "audio/flac" => "flac",
        ANIMATED_STICKER_MIME => "tgs",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "application/zip" => "zip",
        _ => "bin",
    }
}

/// Bytes in a human unit, one decimal: `12.3 MB`, `512 B` (decimal units,
/// as Telegram and most Matrix clients show sizes).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// Decodes Telegram's waveform: 5-bit samples (0–31) packed little-endian
/// into bytes.
pub fn decode_waveform(packed: &[u8]) -> Vec<u8> {
    let samples = packed.len() * 8 / 5;
    (0..samples)
        .map(|i| {
            let bit = i * 5;
            let byte = bit / 8;
            let low = u16::from(packed[byte]);
            let high = packed.get(byte + 1).copied().map_or(0, u16::from);
            (((low | high << 8) >> (bit % 8)) & 0x1f) as u8
        })
        .collect()
}

/// Packs 5-bit samples (values above 31 are clamped) the way Telegram
/// stores waveforms.
pub fn encode_waveform(samples: &[u8]) -> Vec<u8> {
    let mut packed = vec![0u8; (samples.len() * 5).div_ceil(8)];
    for (i, sample) in samples.iter().enumerate() {
        let value = u16::from((*sample).min(31)) << ((i * 5) % 8);
        let byte = i * 5 / 8;
        packed[byte] |= (value & 0xff) as u8;
        if let Some(next) = packed.get_mut(byte + 1) {
            *next |= (value >> 8) as u8;
        }
    }
    packed
}

/// A Telegram waveform as Matrix voice messages carry it (0–1024 a sample).
pub fn matrix_waveform(packed: &[u8]) -> Vec<u16> {
    decode_waveform(packed)
        .into_iter()
        .map(|s| (u32::from(s) * 1024 / 31) as u16)
        .collect()
}

/// A Matrix voice waveform (0–1024 a sample) packed for Telegram, at most
/// 100 samples as Telegram's own apps record.
pub fn telegram_waveform(samples: &[u64]) -> Vec<u8> {
    const MAX_SAMPLES: usize = 100;
    let step = samples.len().div_ceil(MAX_SAMPLES).max(1);
    let five_bit: Vec<u8> = samples
        .chunks(step)
        .map(|chunk| {
            let peak = chunk.iter().copied().max().unwrap_or(0).min(1024);
            (peak * 31 / 1024) as u8
        })
        .collect();
    encode_waveform(&five_bit)
}

/// The Matrix content for an uploaded Telegram file at `url` (an mxc URI),
/// with the message's caption if it has one.
pub fn media_content(file: &TelegramFile, url: &str, caption: Option<&MatrixText>) -> MatrixMedia {
    let name = file_name(file);
    let mut info = Map::new();
    info.insert("mimetype".into(), json!(file.mime_type));
    if let Some(size) = file.size {
        info.insert("size".into(), json!(size));
    }
    if let Some((w, h)) = file.dimensions {
        info.insert("w".into(), json!(w));
        info.insert("h".into(), json!(h));
    }
    if let Some(duration) = file.duration_ms {
        info.insert("duration".into(), json!(duration));
    }
    let (event_type, msgtype) = match &file.kind {
        FileKind::Photo => (MediaEventType::Message, "m.image"),
        FileKind::Sticker { .. } if file.mime_type == ANIMATED_STICKER_MIME => {
            (MediaEventType::Message, "m.file")
        }
        FileKind::Sticker { .. } if file.mime_type.starts_with("video/") => {
            loop_video(&mut info);
            (MediaEventType::Message, "m.video")
        }
        FileKind::Sticker { .. } => (MediaEventType::Sticker, ""),
        FileKind::File if file.mime_type.starts_with("image/") => {
            (MediaEventType::Message, "m.image")
        }
        FileKind::File => (MediaEventType::Message, "m.file"),
        FileKind::Video | FileKind::VideoNote => (MediaEventType::Message, "m.video"),
        FileKind::Animation => {
            loop_video(&mut info);
            (MediaEventType::Message, "m.video")
        }
        FileKind::Voice | FileKind::Audio => (MediaEventType::Message, "m.audio"),
    };
    let mut content = Map::new();
    if event_type == MediaEventType::Sticker {
        let emoji = match &file.kind {
            FileKind::Sticker { emoji } if !emoji.is_empty() => emoji.clone(),
            _ => "Sticker".to_owned(),
        };
        content.insert("body".into(), json!(emoji));
        content.insert("url".into(), json!(url));
        content.insert("info".into(), Value::Object(info));
        return MatrixMedia {
            event_type,
            content: Value::Object(content),
        };
    }
    content.insert("msgtype".into(), json!(msgtype));
    match caption.filter(|c| !c.body.trim().is_empty()) {
        Some(caption) => {
            content.insert("body".into(), json!(caption.body));
            if let Some(html) = &caption.html {
                content.insert("format".into(), json!("org.matrix.custom.html"));
                content.insert("formatted_body".into(), json!(html));
            }
        }
        None => {
            let body = match &file.kind {
                // The emoji keeps a sticker readable where the file is not shown.
                FileKind::Sticker { emoji } if !emoji.is_empty() => {
                    format!("{emoji} (sticker)")
                }
                _ => name.clone(),
            };
            content.insert("body".into(), json!(body));
        }
    }
    content.insert("filename".into(), json!(name));
    content.insert("url".into(), json!(url));
    content.insert("info".into(), Value::Object(info));
    if file.kind == FileKind::Voice {
        let mut audio = Map::new();
        if let Some(duration) = file.duration_ms {
            audio.insert("duration".into(), json!(duration));
        }
        if let Some(waveform) = &file.waveform {
            audio.insert("waveform".into(), json!(matrix_waveform(waveform)));
        }
        content.insert("org.matrix.msc1767.audio".into(), Value::Object(audio));
        content.insert("org.matrix.msc3245.voice".into(), json!({}));
    }
    MatrixMedia {
        event_type,
        content: Value::Object(content),
    }
}

/// Key of the album id in the content of each item of a Telegram album.
/// Matrix has no album relation; items share this value (Telegram's
/// `grouped_id`), so clients and tools can show them together.
pub const ALBUM_KEY: &str = "org.tgbridge.album";

/// Marks a bridged file as an item of the Telegram album `grouped_id`.
pub fn mark_album_item(media: &mut MatrixMedia, grouped_id: i64) {
    if let Value::Object(content) = &mut media.content {
        content.insert(ALBUM_KEY.into(), json!(grouped_id.to_string()));
    }
}

/// The Matrix edit for a Telegram edit of a media message (usually a new
/// caption): `media` as `m.new_content` of a replacement of
/// `original_event_id`, with `* `-marked fallback text for clients without
/// edit support. `None` for stickers, whose event type has no edits.
pub fn edit_content(media: &MatrixMedia, original_event_id: &str) -> Option<MatrixMedia> {
    if media.event_type != MediaEventType::Message {
        return None;
    }
    let mut content = media.content.clone();
    if let Some(body) = content["body"].as_str() {
        content["body"] = json!(format!("* {body}"));
    }
    if let Some(html) = content["formatted_body"].as_str() {
        content["formatted_body"] = json!(format!("* {html}"));
    }
    content["m.new_content"] = media.content.clone();
    content["m.relates_to"] = json!({ "rel_type": "m.replace", "event_id": original_event_id });
    Some(MatrixMedia {
        event_type: MediaEventType::Message,
        content,
    })
}

/// Marks a video as one to play like a GIF: looping, muted, without controls
/// (the hints Element and other clients read for bridged GIFs).
fn loop_video(info: &mut Map<String, Value>) {
    for key in [
        "fi.mau.loop",
        "fi.mau.autoplay",
        "fi.mau.hide_controls",
        "fi.mau.no_audio",
    ] {
        info.insert(key.into(), json!(true));
    }
    info.insert("fi.mau.gif".into(), json!(true));
}

/// The notice for a file bigger than the homeserver accepts: its name and
/// size instead of the file, and the caption below.
pub fn too_large_content(file: &TelegramFile, limit: u64, caption: Option<&MatrixText>) -> Value {
    let name = file_name(file);
    let size = file
        .size
        .map(|s| format!(" ({})", format_size(s)))
        .unwrap_or_default();
    let mut body = format!(
        "📎 {name}{size} is larger than this homeserver accepts ({})",
        format_size(limit)
    );
    append_caption(&mut body, caption);
    json!({ "msgtype": "m.notice", "body": body })
}

/// The notice for a file that could not be bridged for another reason.
pub fn failed_content(file: &TelegramFile, reason: &str, caption: Option<&MatrixText>) -> Value {
    let name = file_name(file);
    let mut body = format!("📎 {name} could not be bridged: {reason}");
    append_caption(&mut body, caption);
    json!({ "msgtype": "m.notice", "body": body })
}

fn append_caption(body: &mut String, caption: Option<&MatrixText>) {
    if let Some(caption) = caption.filter(|c| !c.body.trim().is_empty()) {
        body.push_str("\n\n");
        body.push_str(&caption.body);
    }
}

/// A point on the globe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Accuracy radius in metres.
    pub accuracy_m: Option<u32>,
}

impl GeoPoint {
    /// The RFC 5870 `geo:` URI.
    pub fn geo_uri(&self) -> String {
        let mut uri = format!("geo:{:.6},{:.6}", self.latitude, self.longitude);
        if let Some(accuracy) = self.accuracy_m {
            let _ = write!(uri, ";u={accuracy}");
        }
        uri
    }

    /// Parses a `geo:` URI as Matrix sends it (`geo:lat,lon[,alt][;u=…]`).
    pub fn parse_geo_uri(uri: &str) -> Option<Self> {
        let rest = uri.trim().strip_prefix("geo:")?;
        let mut params = rest.split(';');
        let coordinates = params.next()?;
        let mut numbers = coordinates.split(',').map(|n| n.trim().parse::<f64>());
        let latitude = numbers.next()?.ok()?;
        let longitude = numbers.next()?.ok()?;
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return None;
        }
        let accuracy_m = params
            .filter_map(|p| p.trim().strip_prefix("u="))
            .find_map(|u| u.parse::<f64>().ok())
            .filter(|u| u.is_finite() && *u >= 0.0)
            .map(|u| u.round() as u32);
        Some(GeoPoint {
            latitude,
            longitude,
            accuracy_m,
        })
    }
}

/// An `m.location` event for a Telegram location or venue (`title` and
/// `address` for a venue).
pub fn location_content(point: GeoPoint, title: Option<&str>, address: Option<&str>) -> Value {
    let uri = point.geo_uri();
    let description = match (title.filter(|t| !t.is_empty()), address) {
        (Some(title), Some(address)) if !address.is_empty() => format!("{title}, {address}"),
        (Some(title), _) => title.to_owned(),
        _ => "Location".to_owned(),
    };
    let body = format!(
        "{description}: {:.6}, {:.6}",
        point.latitude, point.longitude
    );
    json!({
        "msgtype": "m.location",
        "body": body,
        "geo_uri": uri,
        "org.matrix.msc3488.location": { "uri": uri, "description": description },
        "org.matrix.msc1767.text": body,
    })
}

/// A contact card shared in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// First name (may be empty).
    pub first_name: String,
    /// Last name (may be empty).
    pub last_name: String,
    /// Phone number, with or without the leading `+`.
    pub phone_number: String,
}

/// A shared contact as text.
pub fn contact_text(contact: &Contact) -> String {
    let name = [contact.first_name.as_str(), contact.last_name.as_str()]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        "Unnamed contact"
    } else {
        &name
    };
    match contact.phone_number.trim() {
        "" => format!("👤 Shared contact: {name}"),
        phone if phone.starts_with('+') => format!("👤 Shared contact: {name}, {phone}"),
        phone => format!("👤 Shared contact: {name}, +{phone}"),
    }
}

/// A poll or quiz with the votes Telegram reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Poll {
    /// The question.
    pub question: String,
    /// A quiz rather than a poll.
    pub quiz: bool,
    /// Voting has ended.
    pub closed: bool,
    /// The options in order: their text and Telegram's option key.
    pub answers: Vec<(String, Vec<u8>)>,
    /// Votes per option key, where Telegram sent them.
    pub votes: Vec<(Vec<u8>, i32)>,
}

/// A poll (or quiz) with its options and, where Telegram sent them, the
/// vote counts.
pub fn poll_text(poll: &Poll) -> String {
    let what = if poll.quiz { "Quiz" } else { "Poll" };
    let mut text = format!("📊 {what}: {}", poll.question);
    for (index, (label, option)) in poll.answers.iter().enumerate() {
        let _ = write!(text, "\n{}. {label}", index + 1);
        if let Some((_, count)) = poll.votes.iter().find(|(key, _)| key == option) {
            let noun = if *count == 1 { "vote" } else { "votes" };
            let _ = write!(text, " ({count} {noun})");
        }
    }
    if poll.closed {
        text.push_str("\n(closed)");
    }
    text
}

/// A dice roll (🎲, 🎯, 🏀, 🎰, …) and its result.
pub fn dice_text(emoticon: &str, value: i32) -> String {
    let emoji = if emoticon.is_empty() {
        "🎲"
    } else {
        emoticon
    };
    format!("{emoji} rolled {value}")
}

/// A game shared from a bot.
pub fn game_text(title: &str, description: &str) -> String {
    match description.trim() {
        "" => format!("🎮 Game: {title}"),
        description => format!("🎮 Game: {title} ({description})"),
    }
}

/// A readable text event for media Matrix has no event type for, with the
/// message's caption below.
pub fn readable_content(text: &str, caption: Option<&MatrixText>) -> Value {
    let mut body = text.to_owned();
    append_caption(&mut body, caption);
    json!({ "msgtype": "m.text", "body": body })
}

/// How a Matrix media event goes to Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingKind {
    /// `m.image`: a compressed photo when Telegram accepts it as one.
    Image,
    /// `m.file`.
    File,
    /// `m.video`.
    Video,
    /// `m.audio` (a voice note when marked as a voice message).
    Audio {
        /// MSC3245 voice message.
        voice: bool,
    },
    /// `m.sticker`.
    Sticker,
    /// `m.location`.
    Location,
}

/// A Matrix media event read for sending to Telegram.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMedia {
    /// What it is.
    pub kind: OutgoingKind,
    /// The mxc URI of the file (`None` for locations).
    pub url: Option<String>,
    /// The file name.
    pub file_name: String,
    /// The MIME type, when the event says.
    pub mime_type: Option<String>,
    /// The size, when the event says.
    pub size: Option<u64>,
    /// Width and height.
    pub dimensions: Option<(u32, u32)>,
    /// Playing time in milliseconds.
    pub duration_ms: Option<u64>,
    /// A voice message's waveform (0–1024 a sample).
    pub waveform: Option<Vec<u64>>,
    /// The caption: the body (and HTML) when it is not just the file name.
    pub caption: Option<(String, Option<String>)>,
    /// Where a location points.
    pub location: Option<GeoPoint>,
}

/// Why a Matrix event cannot be sent as Telegram media.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutgoingMediaError {
    /// Not a media event (e.g. `m.text`).
    #[error("not a media message")]
    NotMedia,
    /// An encrypted file (`file` instead of `url`), which the bridge cannot read.
    #[error("encrypted files are not bridged")]
    Encrypted,
    /// The event lacks a usable `url` or `geo_uri`.
    #[error("the event has no {0}")]
    Missing(&'static str),
}

/// Reads a Matrix `m.room.message` or `m.sticker` content for Telegram.
pub fn outgoing_media(
    event_type: &str,
    content: &Value,
) -> Result<OutgoingMedia, OutgoingMediaError> {
    let kind = match (event_type, content["msgtype"].as_str()) {
        ("m.sticker", _) => OutgoingKind::Sticker,
        ("m.room.message", Some("m.image")) => OutgoingKind::Image,
        ("m.room.message", Some("m.file")) => OutgoingKind::File,
        ("m.room.message", Some("m.video")) => OutgoingKind::Video,
        ("m.room.message", Some("m.audio")) => OutgoingKind::Audio {
            voice: content.get("org.matrix.msc3245.voice").is_some(),
        },
        ("m.room.message", Some("m.location")) => OutgoingKind::Location,
        _ => return Err(OutgoingMediaError::NotMedia),
    };
    let body = content["body"].as_str().unwrap_or_default();
    let html = (content["format"] == "org.matrix.custom.html")
        .then(|| content["formatted_body"].as_str())
        .flatten();
    let filename = content["filename"]
        .as_str()
        .filter(|f| !f.trim().is_empty());
    if kind == OutgoingKind::Location {
        let uri = content["geo_uri"]
            .as_str()
            .or_else(|| content["org.matrix.msc3488.location"]["uri"].as_str())
            .ok_or(OutgoingMediaError::Missing("geo_uri"))?;
        let point = GeoPoint::parse_geo_uri(uri).ok_or(OutgoingMediaError::Missing("geo_uri"))?;
        return Ok(OutgoingMedia {
            kind,
            url: None,
            file_name: String::new(),
            mime_type: None,
            size: None,
            dimensions: None,
            duration_ms: None,
            waveform: None,
            caption: None,
            location: Some(point),
        });
    }
    let url = match content["url"].as_str() {
        Some(url) if url.starts_with("mxc://") => url.to_owned(),
        _ if content.get("file").is_some() => return Err(OutgoingMediaError::Encrypted),
        _ => return Err(OutgoingMediaError::Missing("mxc url")),
    };
    let info = &content["info"];
    let mime_type = info["mimetype"].as_str().map(str::to_owned);
    // Since Matrix 1.10 a `filename` different from `body` makes the body a
    // caption; stickers' bodies describe the sticker and are never captions.
    let caption = match filename {
        Some(name) if kind != OutgoingKind::Sticker && body != name && !body.trim().is_empty() => {
            Some((body.to_owned(), html.map(str::to_owned)))
        }
        _ => None,
    };
    let file_name = filename
        .or((!body.trim().is_empty() && kind != OutgoingKind::Sticker).then_some(body))
        .map(sanitise_file_name)
        .unwrap_or_else(|| default_outgoing_name(kind, mime_type.as_deref()));
    let dimensions = match (info["w"].as_u64(), info["h"].as_u64()) {
        (Some(w), Some(h)) => u32::try_from(w).ok().zip(u32::try_from(h).ok()),
        _ => None,
    };
    let audio = &content["org.matrix.msc1767.audio"];
    let duration_ms = info["duration"]
        .as_u64()
        .or_else(|| audio["duration"].as_u64());
    let waveform = audio["waveform"]
        .as_array()
        .map(|samples| samples.iter().filter_map(Value::as_u64).collect::<Vec<_>>())
        .filter(|w| !w.is_empty());
    Ok(OutgoingMedia {
        kind,
        url: Some(url),
        file_name,
        mime_type,
        size: info["size"].as_u64(),
        dimensions,
        duration_ms,
        waveform,
        caption,
        location: None,
    })
}

/// Keeps only the last path component and no control characters.
fn sanitise_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "file".to_owned()
    } else {
        clean.chars().take(255).collect()
    }
}

fn default_outgoing_name(kind: OutgoingKind, mime: Option<&str>) -> String {
    let extension = extension_for(mime.unwrap_or_default());
    let stem = match kind {
        OutgoingKind::Image => "image",
        OutgoingKind::Video => "video",
        OutgoingKind::Audio { voice: true } => "voice",
        OutgoingKind::Audio { voice: false } => "audio",
        OutgoingKind::Sticker => "sticker",
        OutgoingKind::File | OutgoingKind::Location => "file",
    };
    format!("{stem}.{extension}")
}

/// The MIME type sent to Telegram: the event's, else one guessed from the
/// kind (Telegram needs one for every document).
pub fn outgoing_mime(media: &OutgoingMedia) -> String {
    if let Some(mime) = media.mime_type.as_deref().filter(|m| m.contains('/')) {
        return mime.to_owned();
    }
    match media.kind {
        OutgoingKind::Image | OutgoingKind::Sticker => "image/jpeg",
        OutgoingKind::Video => "video/mp4",
        OutgoingKind::Audio { voice: true } => "audio/ogg",
        OutgoingKind::Audio { voice: false } => "audio/mpeg",
        OutgoingKind::File | OutgoingKind::Location => "application/octet-stream",
    }
    .to_owned()
}

/// Whether Telegram takes the file as a compressed photo rather than a
/// document: JPEG/PNG/WebP images up to Telegram's photo limit. GIFs go as
/// documents so they keep moving; stickers keep their transparency as files.
pub fn send_as_photo(media: &OutgoingMedia, size: u64) -> bool {
    media.kind == OutgoingKind::Image
        && size <= TELEGRAM_PHOTO_LIMIT
        && matches!(
            outgoing_mime(media).as_str(),
            "image/jpeg" | "image/png" | "image/webp"
        )
}

/// The document attributes Telegram needs to show the file as what it is.
pub fn telegram_attributes(media: &OutgoingMedia) -> Vec<DocAttribute> {
    let mut attributes = vec![DocAttribute::FileName(media.file_name.clone())];
    let duration_s = media.duration_ms.map_or(0.0, |ms| ms as f64 / 1000.0);
    let (w, h) = media
        .dimensions
        .map(|(w, h)| {
            (
                i32::try_from(w).unwrap_or(i32::MAX),
                i32::try_from(h).unwrap_or(i32::MAX),
            )
        })
        .unwrap_or((0, 0));
    match media.kind {
        OutgoingKind::Video => attributes.push(DocAttribute::Video {
            w,
            h,
            duration: duration_s,
            round: false,
            supports_streaming: true,
        }),
        OutgoingKind::Audio { voice } => attributes.push(DocAttribute::Audio {
            voice,
            duration: duration_s.round() as i32,
            title: None,
            performer: None,
            waveform: media
                .waveform
                .as_deref()
                .filter(|_| voice)
                .map(telegram_waveform),
        }),
        OutgoingKind::Image | OutgoingKind::Sticker if media.dimensions.is_some() => {
            attributes.push(DocAttribute::ImageSize { w, h })
        }
        _ => {}
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(mime: &str, attributes: Vec<DocAttribute>) -> DocumentInfo {
        DocumentInfo {
            mime_type: mime.into(),
            size: 12_345,
            attributes,
        }
    }

    fn video(w: i32, h: i32, duration: f64, round: bool) -> DocAttribute {
        DocAttribute::Video {
            w,
            h,
            duration,
            round,
            supports_streaming: true,
        }
    }

    fn audio(voice: bool, duration: i32, waveform: Option<Vec<u8>>) -> DocAttribute {
        DocAttribute::Audio {
            voice,
            duration,
            title: Some("Song".into()),
            performer: Some("Band".into()),
            waveform,
        }
    }

    fn name(n: &str) -> DocAttribute {
        DocAttribute::FileName(n.into())
    }

    fn caption(body: &str, html: Option<&str>) -> MatrixText {
        MatrixText {
            body: body.into(),
            html: html.map(str::to_owned),
            mentions: vec![],
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(999), "999 B");
        assert_eq!(format_size(1000), "1 kB");
        assert_eq!(format_size(12_345), "12.3 kB");
        assert_eq!(format_size(12_300_000), "12.3 MB");
        assert_eq!(format_size(10_000_000), "10 MB");
        assert_eq!(format_size(999_999), "1 MB");
        assert_eq!(format_size(2_000_000_000), "2 GB");
    }

    #[test]
    fn waveforms_round_trip_through_telegram_packing() {
        let samples: Vec<u8> = (0..100).map(|i| (i * 7 % 32) as u8).collect();
        let packed = encode_waveform(&samples);
        assert_eq!(packed.len(), 63);
        assert_eq!(decode_waveform(&packed), samples);
        // Known packing: samples 1 and 2 → 0b00010_00001.
        assert_eq!(encode_waveform(&[1, 2]), vec![0b0100_0001, 0b0000_0000]);
        let matrix = matrix_waveform(&encode_waveform(&[0, 31, 15]));
        assert_eq!(matrix, vec![0, 1024, 495]);
        assert_eq!(
            decode_waveform(&telegram_waveform(&[0, 1024, 512])),
            vec![0, 31, 15]
        );
    }

    #[test]
    fn a_long_matrix_waveform_is_reduced_to_peaks() {
        let samples: Vec<u64> = (0..1000)
            .map(|i| if i % 10 == 9 { 1024 } else { 0 })
            .collect();
        let decoded = decode_waveform(&telegram_waveform(&samples));
        assert_eq!(decoded.len(), 100);
        assert!(decoded.iter().all(|&s| s == 31));
    }

    #[test]
    fn documents_are_classified_by_their_attributes() {
        let file = document_file(
            &document("video/mp4", vec![video(640, 360, 3.5, false)]),
            false,
            false,
        );
        assert_eq!(file.kind, FileKind::Video);
        assert_eq!(file.dimensions, Some((640, 360)));
        assert_eq!(file.duration_ms, Some(3500));
        assert_eq!(file_name(&file), "video.mp4");

        let gif = document(
            "video/mp4",
            vec![video(320, 240, 1.0, false), DocAttribute::Animated],
        );
        assert_eq!(document_file(&gif, false, false).kind, FileKind::Animation);
        let round = document("video/mp4", vec![video(240, 240, 2.0, true)]);
        assert_eq!(document_file(&round, false, true).kind, FileKind::VideoNote);

        let voice = document_file(
            &document("audio/ogg", vec![audio(true, 7, Some(vec![1, 2]))]),
            true,
            false,
        );
        assert_eq!(voice.kind, FileKind::Voice);
        assert_eq!(voice.duration_ms, Some(7000));
        assert_eq!(voice.waveform, Some(vec![1, 2]));
        let song = document_file(
            &document("audio/mpeg", vec![audio(false, 180, None)]),
            false,
            false,
        );
        assert_eq!(song.kind, FileKind::Audio);
        assert_eq!(file_name(&song), "Band - Song.mp3");

        let pdf = document_file(
            &document("application/pdf", vec![name("report.pdf")]),
            false,
            false,
        );
        assert_eq!(pdf.kind, FileKind::File);
        assert_eq!(file_name(&pdf), "report.pdf");
        assert_eq!(pdf.size, Some(12_345));

        let sticker = document(
            "image/webp",
            vec![
                DocAttribute::ImageSize { w: 512, h: 512 },
                DocAttribute::Sticker { alt: "😀".into() },
            ],
        );
        let sticker = document_file(&sticker, false, false);
        assert_eq!(
            sticker.kind,
            FileKind::Sticker {
                emoji: "😀".into()
            }
        );
        assert_eq!(sticker.dimensions, Some((512, 512)));
        assert_eq!(file_name(&sticker), "sticker.webp");
    }

    #[test]
    fn the_largest_photo_size_is_chosen() {
        // The adapter reads a progressive size as its largest scan and
        // leaves out stripped thumbnails (see `telegram::media`).
        let sizes = vec![
            PhotoSizeInfo {
                size_type: "m".into(),
                w: 320,
                h: 240,
                size: 10_000,
            },
            PhotoSizeInfo {
                size_type: "y".into(),
                w: 1280,
                h: 960,
                size: 90_000,
            },
        ];
        let chosen = photo_file(&sizes).unwrap();
        assert_eq!(chosen.size_type, "y");
        assert_eq!(chosen.file.dimensions, Some((1280, 960)));
        assert_eq!(chosen.file.size, Some(90_000));
        assert_eq!(file_name(&chosen.file), "photo.jpg");
        assert_eq!(photo_file(&[]), None);
    }

    #[test]
    fn a_photo_with_a_caption_is_an_image_whose_body_is_the_caption() {
        let file = photo_file(&[PhotoSizeInfo {
            size_type: "x".into(),
            w: 800,
            h: 600,
            size: 54_321,
        }])
        .unwrap()
        .file;
        let media = media_content(
            &file,
            "mxc://hs/abc",
            Some(&caption("Look *here*", Some("Look <b>here</b>"))),
        );
        assert_eq!(media.event_type, MediaEventType::Message);
        assert_eq!(
            media.content,
            json!({
                "msgtype": "m.image",
                "body": "Look *here*",
                "format": "org.matrix.custom.html",
                "formatted_body": "Look <b>here</b>",
                "filename": "photo.jpg",
                "url": "mxc://hs/abc",
                "info": { "mimetype": "image/jpeg", "size": 54_321, "w": 800, "h": 600 },
            })
        );
        let plain = media_content(&file, "mxc://hs/abc", None);
        assert_eq!(plain.content["body"], "photo.jpg");
        assert!(plain.content.get("format").is_none());
    }

    #[test]
    fn voice_notes_are_matrix_voice_messages() {
        let voice = document_file(
            &document(
                "audio/ogg",
                vec![audio(true, 4, Some(encode_waveform(&[0, 31])))],
            ),
            true,
            false,
        );
        let media = media_content(&voice, "mxc://hs/v", None);
        let c = &media.content;
        assert_eq!(c["msgtype"], "m.audio");
        assert_eq!(c["info"]["duration"], 4000);
        assert_eq!(c["org.matrix.msc1767.audio"]["duration"], 4000);
        // Two samples fill 10 of 16 bits; the padding reads as a silent third.
        assert_eq!(
            c["org.matrix.msc1767.audio"]["waveform"],
            json!([0, 1024, 0])
        );
        assert_eq!(c["org.matrix.msc3245.voice"], json!({}));
        assert_eq!(c["filename"], "voice.ogg");
    }

    #[test]
    fn stickers_gifs_and_videos_get_their_event_types() {
        let sticker = TelegramFile {
            kind: FileKind::Sticker {
                emoji: "🐱".into()
            },
            file_name: None,
            mime_type: "image/webp".into(),
            size: Some(100),
            dimensions: Some((512, 512)),
            duration_ms: None,
            waveform: None,
            title: None,
            performer: None,
        };
        let media = media_content(&sticker, "mxc://hs/s", None);
        assert_eq!(media.event_type, MediaEventType::Sticker);
        assert_eq!(
            media.content,
            json!({ "body": "🐱", "url": "mxc://hs/s", "info": { "mimetype": "image/webp", "size": 100, "w": 512, "h": 512 } })
        );
        let animated = TelegramFile {
            mime_type: ANIMATED_STICKER_MIME.into(),
            ..sticker.clone()
        };
        let media = media_content(&animated, "mxc://hs/t", None);
        assert_eq!(media.event_type, MediaEventType::Message);
        assert_eq!(media.content["msgtype"], "m.file");
        assert_eq!(media.content["body"], "🐱 (sticker)");
        assert_eq!(media.content["filename"], "sticker.tgs");

        let gif = TelegramFile {
            kind: FileKind::Animation,
            mime_type: "video/mp4".into(),
            ..sticker
        };
        let media = media_content(&gif, "mxc://hs/g", None);
        assert_eq!(media.content["msgtype"], "m.video");
        assert_eq!(media.content["info"]["fi.mau.loop"], true);
        assert_eq!(media.content["filename"], "animation.mp4");
    }

    #[test]
    fn a_caption_edit_replaces_the_media_event() {
        let file = TelegramFile {
            kind: FileKind::Photo,
            file_name: None,
            mime_type: "image/jpeg".into(),
            size: Some(10),
            dimensions: None,
            duration_ms: None,
            waveform: None,
            title: None,
            performer: None,
        };
        let media = media_content(
            &file,
            "mxc://hs/p",
            Some(&caption("new", Some("<i>new</i>"))),
        );
        let edit = edit_content(&media, "$original").unwrap();
        assert_eq!(edit.content["body"], "* new");
        assert_eq!(edit.content["formatted_body"], "* <i>new</i>");
        assert_eq!(edit.content["m.new_content"], media.content);
        assert_eq!(
            edit.content["m.relates_to"],
            json!({ "rel_type": "m.replace", "event_id": "$original" })
        );
        assert_eq!(edit.content["url"], "mxc://hs/p");
        let sticker = MatrixMedia {
            event_type: MediaEventType::Sticker,
            content: json!({}),
        };
        assert_eq!(edit_content(&sticker, "$s"), None);
    }

    #[test]
    fn album_items_share_the_album_id() {
        let mut media = MatrixMedia {
            event_type: MediaEventType::Message,
            content: json!({ "msgtype": "m.image", "body": "a" }),
        };
        mark_album_item(&mut media, 13_000_000_000_000_001);
        assert_eq!(media.content[ALBUM_KEY], "13000000000000001");
    }

    #[test]
    fn an_oversized_file_becomes_a_notice_with_name_and_size() {
        let file = document_file(
            &document("application/zip", vec![name("big.zip")]),
            false,
            false,
        );
        let file = TelegramFile {
            size: Some(12_300_000),
            ..file
        };
        let notice = too_large_content(&file, 10_000_000, Some(&caption("holiday", None)));
        assert_eq!(
            notice,
            json!({ "msgtype": "m.notice", "body": "📎 big.zip (12.3 MB) is larger than this homeserver accepts (10 MB)\n\nholiday" })
        );
    }

    #[test]
    fn locations_and_geo_uris() {
        let point = GeoPoint {
            latitude: 52.520008,
            longitude: 13.404954,
            accuracy_m: Some(25),
        };
        assert_eq!(point.geo_uri(), "geo:52.520008,13.404954;u=25");
        assert_eq!(GeoPoint::parse_geo_uri(&point.geo_uri()), Some(point));
        assert_eq!(
            GeoPoint::parse_geo_uri("geo:-33.8,151.2,40"),
            Some(GeoPoint {
                latitude: -33.8,
                longitude: 151.2,
                accuracy_m: None
            })
        );
        assert_eq!(GeoPoint::parse_geo_uri("geo:95,0"), None);
        assert_eq!(GeoPoint::parse_geo_uri("http://x"), None);
        assert_eq!(GeoPoint::parse_geo_uri("geo:abc,1"), None);
        let content = location_content(point, Some("Cafe"), Some("Main St 1"));
        assert_eq!(content["msgtype"], "m.location");
        assert_eq!(content["geo_uri"], "geo:52.520008,13.404954;u=25");
        assert_eq!(content["body"], "Cafe, Main St 1: 52.520008, 13.404954");
    }

    #[test]
    fn contacts_polls_dice_and_games_read_as_text() {
        let contact = Contact {
            phone_number: "15550001".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
        };
        assert_eq!(
            contact_text(&contact),
            "👤 Shared contact: Ada Lovelace, +15550001"
        );

        let poll = Poll {
            question: "Lunch?".into(),
            quiz: false,
            closed: false,
            answers: vec![("Pizza".into(), vec![0]), ("Salad".into(), vec![1])],
            votes: vec![(vec![0], 3)],
        };
        assert_eq!(
            poll_text(&poll),
            "📊 Poll: Lunch?\n1. Pizza (3 votes)\n2. Salad"
        );

        assert_eq!(dice_text("🎯", 4), "🎯 rolled 4");
        assert_eq!(dice_text("", 2), "🎲 rolled 2");
        assert_eq!(
            game_text("Snake", "Eat apples"),
            "🎮 Game: Snake (Eat apples)"
        );
        assert_eq!(
            readable_content("🎯 rolled 4", Some(&caption("nice", None))),
            json!({ "msgtype": "m.text", "body": "🎯 rolled 4\n\nnice" })
        );
    }

    #[test]
    fn matrix_media_is_read_for_telegram() {
        let image = json!({
            "msgtype": "m.image", "body": "sunset!", "format": "org.matrix.custom.html",
            "formatted_body": "<b>sunset!</b>", "filename": "IMG_1.jpg", "url": "mxc://hs/a",
            "info": { "mimetype": "image/jpeg", "size": 2048, "w": 10, "h": 20 }
        });
        let media = outgoing_media("m.room.message", &image).unwrap();
        assert_eq!(media.kind, OutgoingKind::Image);
        assert_eq!(media.file_name, "IMG_1.jpg");
        assert_eq!(
            media.caption,
            Some(("sunset!".into(), Some("<b>sunset!</b>".into())))
        );
        assert_eq!(media.size, Some(2048));
        assert!(send_as_photo(&media, 2048));
        assert!(!send_as_photo(&media, 20_000_000));

        // Without `filename` the body is the file name and no caption.
        let file = json!({ "msgtype": "m.file", "body": "../notes.txt", "url": "mxc://hs/b" });
        let media = outgoing_media("m.room.message", &file).unwrap();
        assert_eq!(media.file_name, "notes.txt");
        assert_eq!(media.caption, None);
        assert_eq!(outgoing_mime(&media), "application/octet-stream");
        let same = json!({ "msgtype": "m.file", "body": "a.txt", "filename": "a.txt", "url": "mxc://hs/b" });
        assert_eq!(
            outgoing_media("m.room.message", &same).unwrap().caption,
            None
        );

        let voice = json!({
            "msgtype": "m.audio", "body": "Voice message", "url": "mxc://hs/c",
            "info": { "mimetype": "audio/ogg", "duration": 2500 },
            "org.matrix.msc1767.audio": { "duration": 2500, "waveform": [0, 1024] },
            "org.matrix.msc3245.voice": {}
        });
        let media = outgoing_media("m.room.message", &voice).unwrap();
        assert_eq!(media.kind, OutgoingKind::Audio { voice: true });
        let attributes = telegram_attributes(&media);
        match &attributes[1] {
            DocAttribute::Audio {
                voice,
                duration,
                waveform,
                ..
            } => {
                assert!(voice);
                assert_eq!(*duration, 3);
                assert_eq!(
                    decode_waveform(waveform.as_deref().unwrap()),
                    vec![0, 31, 0]
                );
            }
            other => panic!("{other:?}"),
        }

        let video = json!({ "msgtype": "m.video", "body": "clip.mp4", "url": "mxc://hs/d",
            "info": { "mimetype": "video/mp4", "w": 640, "h": 480, "duration": 1500 } });
        let media = outgoing_media("m.room.message", &video).unwrap();
        match &telegram_attributes(&media)[1] {
            DocAttribute::Video { w, h, duration, .. } => {
                assert_eq!((*w, *h, *duration), (640, 480, 1.5));
            }
            other => panic!("{other:?}"),
        }

        let location = json!({ "msgtype": "m.location", "body": "here", "geo_uri": "geo:1.5,2.5" });
        let media = outgoing_media("m.room.message", &location).unwrap();
        assert_eq!(
            media.location.map(|p| (p.latitude, p.longitude)),
            Some((1.5, 2.5))
        );

        let sticker = json!({ "body": "a cat", "url": "mxc://hs/e", "info": { "mimetype": "image/png", "w": 256, "h": 256 } });
        let media = outgoing_media("m.sticker", &sticker).unwrap();
        assert_eq!(media.kind, OutgoingKind::Sticker);
        assert_eq!(media.caption, None);
        assert_eq!(media.file_name, "sticker.png");

        let text = json!({ "msgtype": "m.text", "body": "hi" });
        assert_eq!(
            outgoing_media("m.room.message", &text),
            Err(OutgoingMediaError::NotMedia)
        );
        let encrypted =
            json!({ "msgtype": "m.file", "body": "x", "file": { "url": "mxc://hs/f" } });
        assert_eq!(
            outgoing_media("m.room.message", &encrypted),
            Err(OutgoingMediaError::Encrypted)
        );
        let broken = json!({ "msgtype": "m.location", "body": "x", "geo_uri": "nowhere" });
        assert_eq!(
            outgoing_media("m.room.message", &broken),
            Err(OutgoingMediaError::Missing("geo_uri"))
        );
    }
}
