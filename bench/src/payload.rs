//! The benchmark's values: a socialNetwork `Post` shaped like one composed
//! by DeathStarBench's wrk2 script, and a small `EchoRequest`.
//!
//! Everything is derived from fixed seeds, so every run and every peer sees
//! the same bytes.

use crate::ours::bench::{Creator, EchoRequest, Media, Post, PostType, Url, UserMention};

/// The length of `Post.text`: the mean composed text in DeathStarBench's
/// workload (256 random characters plus mentions and URLs).
pub const TEXT_LEN: usize = 557;

const MENTIONED: [i64; 3] = [101, 202, 303];
const MEDIA_IDS: [i64; 3] = [734_205_918_273_645_091, 118_406_392_857_102_364, 905_117_264_830_559_428];

/// `n` characters of `[a-zA-Z0-9]` from a xorshift generator seeded with
/// `seed`, as the workload's random text.
fn alphanumerics(seed: u64, n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

/// A `Post` with three mentions, three media and three URLs, and a text of
/// [`TEXT_LEN`] characters that contains the mentions and the expanded URLs
/// (as the wrk2 script composes it: random text, then ` @username_k` and
/// ` http://` plus 64 random characters for each).
pub fn post() -> Post {
    let urls: Vec<Url> = (0..3u64)
        .map(|i| Url {
            shortened_url: format!("http://short-url/{}", alphanumerics(100 + i, 10)),
            expanded_url: format!("http://{}", alphanumerics(200 + i, 64)),
        })
        .collect();
    let user_mentions: Vec<UserMention> =
        MENTIONED.iter().map(|&id| UserMention { user_id: id, username: format!("username_{id}") }).collect();
    let mut tail = String::new();
    for m in &user_mentions {
        tail.push_str(" @");
        tail.push_str(&m.username);
    }
    for u in &urls {
        tail.push(' ');
        tail.push_str(&u.expanded_url);
    }
    let text = alphanumerics(7, TEXT_LEN - tail.len()) + &tail;
    assert_eq!(text.len(), TEXT_LEN);
    Post {
        post_id: 0x0123_4567_89ab_cdef,
        creator: Creator { user_id: 42, username: "username_42".to_owned() },
        // The front end's req_id: 15 hex digits of nginx's request id.
        req_id: 0x00fe_dcba_9876_5432,
        text,
        user_mentions,
        media: MEDIA_IDS.iter().map(|&id| Media { media_id: id, media_type: "png".to_owned() }).collect(),
        urls,
        timestamp: 1_700_000_000_123,
        post_type: PostType::POST,
    }
}

/// An echo call's argument: a 64-character message and a sequence number.
pub fn echo() -> EchoRequest {
    EchoRequest { message: alphanumerics(3, 64), seq: 1_234_567 }
}
