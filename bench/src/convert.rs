//! Our payload values to each peer's types and back.
//!
//! Apache and pilota give every default-requiredness field an `Option`; a
//! field present on the wire is `Some`. Converting back to ours turns a
//! `None` into a missing field's sentinel (`i64::MIN`, `"<missing>"`), so
//! the equality check in the benchmark fails loudly instead of matching a
//! default.

use crate::apache as ap;
use crate::ours::bench as our;
use crate::pilota_gen::bench::bench as pi;

const MISSING: &str = "<missing>";

fn id(v: Option<i64>) -> i64 {
    v.unwrap_or(i64::MIN)
}

fn text(v: Option<impl AsRef<str>>) -> String {
    v.as_ref().map_or(MISSING, AsRef::as_ref).to_owned()
}

// Apache.

impl From<&our::Creator> for ap::Creator {
    fn from(v: &our::Creator) -> Self {
        ap::Creator { user_id: Some(v.user_id), username: Some(v.username.clone()) }
    }
}

impl From<&our::UserMention> for ap::UserMention {
    fn from(v: &our::UserMention) -> Self {
        ap::UserMention { user_id: Some(v.user_id), username: Some(v.username.clone()) }
    }
}

impl From<&our::Media> for ap::Media {
    fn from(v: &our::Media) -> Self {
        ap::Media { media_id: Some(v.media_id), media_type: Some(v.media_type.clone()) }
    }
}

impl From<&our::Url> for ap::Url {
    fn from(v: &our::Url) -> Self {
        ap::Url { shortened_url: Some(v.shortened_url.clone()), expanded_url: Some(v.expanded_url.clone()) }
    }
}

impl From<&our::Post> for ap::Post {
    fn from(v: &our::Post) -> Self {
        ap::Post {
            post_id: Some(v.post_id),
            creator: Some((&v.creator).into()),
            req_id: Some(v.req_id),
            text: Some(v.text.clone()),
            user_mentions: Some(v.user_mentions.iter().map(Into::into).collect()),
            media: Some(v.media.iter().map(Into::into).collect()),
            urls: Some(v.urls.iter().map(Into::into).collect()),
            timestamp: Some(v.timestamp),
            post_type: Some(ap::PostType(v.post_type.0)),
        }
    }
}

impl From<&our::EchoRequest> for ap::EchoRequest {
    fn from(v: &our::EchoRequest) -> Self {
        ap::EchoRequest { message: Some(v.message.clone()), seq: Some(v.seq) }
    }
}

impl From<&ap::Creator> for our::Creator {
    fn from(v: &ap::Creator) -> Self {
        our::Creator { user_id: id(v.user_id), username: text(v.username.as_ref()) }
    }
}

impl From<&ap::UserMention> for our::UserMention {
    fn from(v: &ap::UserMention) -> Self {
        our::UserMention { user_id: id(v.user_id), username: text(v.username.as_ref()) }
    }
}

impl From<&ap::Media> for our::Media {
    fn from(v: &ap::Media) -> Self {
        our::Media { media_id: id(v.media_id), media_type: text(v.media_type.as_ref()) }
    }
}

impl From<&ap::Url> for our::Url {
    fn from(v: &ap::Url) -> Self {
        our::Url { shortened_url: text(v.shortened_url.as_ref()), expanded_url: text(v.expanded_url.as_ref()) }
    }
}

impl From<&ap::Post> for our::Post {
    fn from(v: &ap::Post) -> Self {
        our::Post {
            post_id: id(v.post_id),
            creator: v.creator.as_ref().map(Into::into).unwrap_or_else(missing_creator),
            req_id: id(v.req_id),
            text: text(v.text.as_ref()),
            user_mentions: v.user_mentions.iter().flatten().map(Into::into).collect(),
            media: v.media.iter().flatten().map(Into::into).collect(),
            urls: v.urls.iter().flatten().map(Into::into).collect(),
            timestamp: id(v.timestamp),
            post_type: our::PostType(v.post_type.map_or(i32::MIN, |t| t.0)),
        }
    }
}

impl From<&ap::EchoRequest> for our::EchoRequest {
    fn from(v: &ap::EchoRequest) -> Self {
        our::EchoRequest { message: text(v.message.as_ref()), seq: id(v.seq) }
    }
}

fn missing_creator() -> our::Creator {
    our::Creator { user_id: i64::MIN, username: MISSING.to_owned() }
}

// pilota.

fn fast(s: &str) -> pilota::FastStr {
    pilota::FastStr::new(s)
}

impl From<&our::Creator> for pi::Creator {
    fn from(v: &our::Creator) -> Self {
        pi::Creator { user_id: Some(v.user_id), username: Some(fast(&v.username)) }
    }
}

impl From<&our::UserMention> for pi::UserMention {
    fn from(v: &our::UserMention) -> Self {
        pi::UserMention { user_id: Some(v.user_id), username: Some(fast(&v.username)) }
    }
}

impl From<&our::Media> for pi::Media {
    fn from(v: &our::Media) -> Self {
        pi::Media { media_id: Some(v.media_id), media_type: Some(fast(&v.media_type)) }
    }
}

impl From<&our::Url> for pi::Url {
    fn from(v: &our::Url) -> Self {
        pi::Url { shortened_url: Some(fast(&v.shortened_url)), expanded_url: Some(fast(&v.expanded_url)) }
    }
}

impl From<&our::Post> for pi::Post {
    fn from(v: &our::Post) -> Self {
        pi::Post {
            post_id: Some(v.post_id),
            creator: Some((&v.creator).into()),
            req_id: Some(v.req_id),
            text: Some(fast(&v.text)),
            user_mentions: Some(v.user_mentions.iter().map(Into::into).collect()),
            media: Some(v.media.iter().map(Into::into).collect()),
            urls: Some(v.urls.iter().map(Into::into).collect()),
            timestamp: Some(v.timestamp),
            post_type: Some(pi::PostType::from(v.post_type.0)),
        }
    }
}

impl From<&our::EchoRequest> for pi::EchoRequest {
    fn from(v: &our::EchoRequest) -> Self {
        pi::EchoRequest { message: Some(fast(&v.message)), seq: Some(v.seq) }
    }
}

impl From<&pi::Creator> for our::Creator {
    fn from(v: &pi::Creator) -> Self {
        our::Creator { user_id: id(v.user_id), username: text(v.username.as_ref()) }
    }
}

impl From<&pi::UserMention> for our::UserMention {
    fn from(v: &pi::UserMention) -> Self {
        our::UserMention { user_id: id(v.user_id), username: text(v.username.as_ref()) }
    }
}

impl From<&pi::Media> for our::Media {
    fn from(v: &pi::Media) -> Self {
        our::Media { media_id: id(v.media_id), media_type: text(v.media_type.as_ref()) }
    }
}

impl From<&pi::Url> for our::Url {
    fn from(v: &pi::Url) -> Self {
        our::Url { shortened_url: text(v.shortened_url.as_ref()), expanded_url: text(v.expanded_url.as_ref()) }
    }
}

impl From<&pi::Post> for our::Post {
    fn from(v: &pi::Post) -> Self {
        our::Post {
            post_id: id(v.post_id),
            creator: v.creator.as_ref().map(Into::into).unwrap_or_else(missing_creator),
            req_id: id(v.req_id),
            text: text(v.text.as_ref()),
            user_mentions: v.user_mentions.iter().flatten().map(Into::into).collect(),
            media: v.media.iter().flatten().map(Into::into).collect(),
            urls: v.urls.iter().flatten().map(Into::into).collect(),
            timestamp: id(v.timestamp),
            post_type: our::PostType(v.post_type.map_or(i32::MIN, |t| t.inner())),
        }
    }
}

impl From<&pi::EchoRequest> for our::EchoRequest {
    fn from(v: &pi::EchoRequest) -> Self {
        our::EchoRequest { message: text(v.message.as_ref()), seq: id(v.seq) }
    }
}
