// The codec benchmark's payloads, compiled by all three generators
// (thrift-mu2sls, Apache `thrift --gen rs`, pilota-build).
//
// `Post` and its parts follow DeathStarBench's socialNetwork IDL (2021):
// the same field ids, types and default requiredness. `EchoRequest` is
// the small message of an echo RPC.

namespace rs bench

enum PostType {
  POST = 0,
  REPOST = 1,
  REPLY = 2,
  DM = 3,
}

struct Media {
  1: i64 media_id,
  2: string media_type,
}

struct Url {
  1: string shortened_url,
  2: string expanded_url,
}

struct UserMention {
  1: i64 user_id,
  2: string username,
}

struct Creator {
  1: i64 user_id,
  2: string username,
}

struct Post {
  1: i64 post_id,
  2: Creator creator,
  3: i64 req_id,
  4: string text,
  5: list<UserMention> user_mentions,
  6: list<Media> media,
  7: list<Url> urls,
  8: i64 timestamp,
  9: PostType post_type,
}

struct EchoRequest {
  1: string message,
  2: i64 seq,
}
