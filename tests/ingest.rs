//! Ingest from the platforms, end to end: local fake platforms speaking each documented
//! format drive the real webhook server (the router and serve loop of `earshot ingest
//! serve`, over real HTTP on loopback) and the real stream clients (real WebSocket and HTTP
//! streaming connections), publishing through a real Kafka client to librdkafka's mock
//! cluster; the `earshot` binary itself is killed and restarted for the cursor tests.
//!
//! The payloads are written here, modelled on the platforms' documentation (LINE
//! `line-openapi` webhook.yml, Meta's Graph API webhook pages, X's Account Activity and
//! filtered-stream docs, Bluesky Jetstream's README, Mastodon's API docs). No real platform
//! is reachable from the tests.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "pipeline/expect.rs"]
mod expect;
#[path = "ingest/fakes.rs"]
mod fakes;
#[allow(dead_code)]
#[path = "pipeline/harness.rs"]
mod harness;
#[path = "ingest/streams.rs"]
mod streams;
#[path = "ingest/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use earshot_ingest::settings::IngestSettings;
use earshot_ingest::signature::{sign, Scheme};
use earshot_kafka::{
    DLQ_ERROR_CODE_HEADER, DLQ_REASON_HEADER, DLQ_STAGE_HEADER, SCHEMA_HEADER, TRACE_HEADER,
};

use harness::{stop, Fixture};
use support::*;

const WITHIN: Duration = Duration::from_secs(60);
const QUIET: Duration = Duration::from_secs(1);

fn raw_count(fx: &Fixture) -> i64 {
    fx.high_watermarks(&fx.topics().raw).values().sum()
}

fn dlq_count(fx: &Fixture) -> i64 {
    fx.high_watermarks(&fx.topics().dlq).values().sum()
}

/// LINE: the connectivity check, then a signed delivery of two text messages and a sticker.
/// The 200 comes after Kafka has both posts; each post has the fields LINE gives, the
/// conversation as its key and the source and trace headers.
#[test]
fn line_signed_messages_reach_the_raw_topic() {
    let fx = Fixture::start(1, 2);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();

    let check = br#"{"destination":"Ubot","events":[]}"#;
    assert_eq!(platform.line(&rt, &server, check).0, 200);

    let mut body: serde_json::Value = serde_json::from_slice(&line_body(
        &[
            (
                "01JLINE00000000000000000A1",
                "Uaki",
                "星空モバイル、圏外です😡",
                1_790_000_000_000,
            ),
            (
                "01JLINE00000000000000000A2",
                "Umio",
                "請求が二重になってる",
                1_790_000_001_000,
            ),
        ],
        false,
    ))
    .unwrap();
    body["events"].as_array_mut().unwrap().push(serde_json::json!({
        "type": "message", "mode": "active", "timestamp": 1_790_000_002_000i64,
        "source": {"type": "user", "userId": "Uaki"}, "webhookEventId": "01JLINE00000000000000000A3",
        "deliveryContext": {"isRedelivery": false}, "replyToken": "r",
        "message": {"id": "m3", "type": "sticker", "packageId": "446", "stickerId": "1988"}
    }));
    let body = serde_json::to_vec(&body).unwrap();
    let (status, _) = platform.line(&rt, &server, &body);
    assert_eq!(status, 200);
    // Answered only after the acknowledgements: both records are on the topic already.
    assert_eq!(raw_count(&fx), 2);

    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "two LINE posts", |o| {
        o.on(&fx.topics().raw).count() >= 2
    });
    out.settle(QUIET, WITHIN);
    let posts = raw_posts(&fx, &out);
    assert_eq!(posts.len(), 2);
    let (record, aki) = posts.iter().find(|(_, p)| p.author.id == "Uaki").unwrap();
    assert_eq!(aki.id, "line:01JLINE00000000000000000A1");
    assert_eq!(aki.platform, "line");
    assert_eq!(aki.text, "星空モバイル、圏外です😡");
    assert_eq!(aki.conversation_id.as_deref(), Some("line:user:Uaki"));
    assert_eq!(
        aki.created_at.map(|t| t.timestamp_millis()),
        Some(1_790_000_000_000)
    );
    assert!(aki.received_at.is_some());
    assert_eq!(record.key.as_deref(), Some("line:user:Uaki"));
    assert_eq!(record.header("earshot-source"), Some("line"));
    assert_eq!(record.header(TRACE_HEADER), Some(aki.id.as_str()));
    assert_eq!(record.header(SCHEMA_HEADER), Some("1"));
    assert_eq!(dlq_count(&fx), 0);

    let m = &server.metrics;
    assert_eq!(m.posts_published.with_label_values(&["line"]).get(), 2);
    assert_eq!(m.skipped.with_label_values(&["line", "not_text"]).get(), 1);
    assert_eq!(server.requests("line", "ok"), 2);
    server.stop(&rt);
}

/// Every source refuses a missing, wrong or malformed signature, or a body changed after
/// signing, with 401; nothing reaches Kafka.
#[test]
fn bad_or_missing_signatures_are_401_and_publish_nothing() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();
    let line = line_body(&[("E1", "U1", "星空モバイル", 1_790_000_000_000)], false);
    let meta = br#"{"object":"page","entry":[{"id":"P","time":1,"changes":[{"field":"feed","value":{"item":"status","verb":"add","post_id":"P_1","from":{"id":"U"},"message":"hi"}}]}]}"#;
    let x = br#"{"for_user_id":"1","tweet_create_events":[{"id_str":"5","text":"hi","user":{"id_str":"2"}}]}"#;
    let generic = br#"{"id":"r1","text":"bad service"}"#;
    let tampered = |body: &[u8]| {
        let mut b = body.to_vec();
        b.extend_from_slice(b" ");
        b
    };
    // (source, path, what is wrong, headers, body)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String)>, Vec<u8>);
    let cases: Vec<Case> = vec![
        ("line", "/webhooks/line", "missing", vec![], line.clone()),
        (
            "line",
            "/webhooks/line",
            "wrong secret",
            vec![(
                "x-line-signature",
                sign(b"not-the-secret", &line, Scheme::LINE),
            )],
            line.clone(),
        ),
        (
            "line",
            "/webhooks/line",
            "changed body",
            vec![(
                "x-line-signature",
                sign(LINE_SECRET.as_bytes(), &line, Scheme::LINE),
            )],
            tampered(&line),
        ),
        (
            "line",
            "/webhooks/line",
            "garbage",
            vec![("x-line-signature", "%%%".into())],
            line.clone(),
        ),
        ("meta", "/webhooks/meta", "missing", vec![], meta.to_vec()),
        (
            "meta",
            "/webhooks/meta",
            "wrong secret",
            vec![("x-hub-signature-256", sign(b"nope", meta, Scheme::META))],
            meta.to_vec(),
        ),
        (
            "meta",
            "/webhooks/meta",
            "no prefix",
            vec![(
                "x-hub-signature-256",
                sign(META_SECRET.as_bytes(), meta, Scheme::META).replace("sha256=", ""),
            )],
            meta.to_vec(),
        ),
        ("x", "/webhooks/x", "missing", vec![], x.to_vec()),
        (
            "x",
            "/webhooks/x",
            "wrong secret",
            vec![("x-twitter-webhooks-signature", sign(b"nope", x, Scheme::X))],
            x.to_vec(),
        ),
        (
            "generic",
            "/webhooks/generic",
            "missing",
            vec![],
            generic.to_vec(),
        ),
        (
            "generic",
            "/webhooks/generic",
            "wrong secret",
            vec![(
                "x-earshot-signature",
                sign(b"nope", generic, Scheme::GENERIC),
            )],
            generic.to_vec(),
        ),
    ];
    for (source, path, what, headers, body) in &cases {
        let (status, text) = platform.post(&rt, &server.url(path), headers, body);
        assert_eq!(status, 401, "{source} {what}: {text}");
        assert!(!text.contains(LINE_SECRET) && !text.contains(META_SECRET));
    }
    // Nothing was published, not even a dead letter.
    let mut out = reader(&fx);
    out.settle(Duration::from_secs(2), WITHIN);
    assert!(out.records.is_empty(), "{:?}", out.records);
    assert_eq!((raw_count(&fx), dlq_count(&fx)), (0, 0));
    let failures = |source: &str, code: &str| {
        server
            .metrics
            .signature_failures
            .with_label_values(&[source, code])
            .get()
    };
    assert_eq!(failures("line", "missing_signature"), 1);
    assert_eq!(failures("line", "bad_signature"), 2);
    assert_eq!(failures("line", "malformed_signature"), 1);
    assert_eq!(failures("meta", "malformed_signature"), 1);
    assert_eq!(server.requests("x", "unauthorized"), 2);
    // The same bodies, signed right, go through.
    for (path, header, secret, scheme, body) in [
        (
            "/webhooks/line",
            "x-line-signature",
            LINE_SECRET,
            Scheme::LINE,
            line.clone(),
        ),
        (
            "/webhooks/meta",
            "x-hub-signature-256",
            META_SECRET,
            Scheme::META,
            meta.to_vec(),
        ),
        (
            "/webhooks/x",
            "x-twitter-webhooks-signature",
            X_SECRET,
            Scheme::X,
            x.to_vec(),
        ),
        (
            "/webhooks/generic",
            "x-earshot-signature",
            GENERIC_SECRET,
            Scheme::GENERIC,
            generic.to_vec(),
        ),
    ] {
        let signature = sign(secret.as_bytes(), &body, scheme);
        let (status, text) = platform.post(&rt, &server.url(path), &[(header, signature)], &body);
        assert_eq!(status, 200, "{path}: {text}");
    }
    assert_eq!(raw_count(&fx), 4);
    server.stop(&rt);
}

/// Meta: the verification handshake, then a Page delivery with two entries and several
/// changes (non-ASCII `\u`-escaped, as Meta sends it, and verified over those raw bytes), and
/// an Instagram delivery with a comment and a direct message.
#[test]
fn meta_handshake_and_deliveries_with_many_entries() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();
    let verify = |token: &str| {
        platform.get(
            &rt,
            &server.url(&format!(
                "/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
            )),
        )
    };
    assert_eq!(verify(META_TOKEN), (200, "1158201444".to_string()));
    assert_eq!(verify("guess").0, 403);

    let page = r#"{"object":"page","entry":[
        {"id":"PAGE1","time":1790000000,"changes":[
          {"field":"feed","value":{"item":"comment","verb":"add","post_id":"PAGE1_77","comment_id":"77_1","parent_id":"PAGE1_77","from":{"id":"U5","name":"\u5c71\u7530"},"message":"\u661f\u7a7a\u30e2\u30d0\u30a4\u30eb\u570f\u5916","created_time":1790000001}},
          {"field":"feed","value":{"item":"reaction","verb":"add","post_id":"PAGE1_77","reaction_type":"like","from":{"id":"U6"}}}]},
        {"id":"PAGE1","time":1790000005,"changes":[
          {"field":"feed","value":{"item":"comment","verb":"add","post_id":"PAGE1_77","comment_id":"77_2","parent_id":"77_1","from":{"id":"U7","name":"B"},"message":"same here","created_time":1790000006}},
          {"field":"feed","value":{"item":"status","verb":"add","post_id":"PAGE1_78","from":{"id":"U8","name":"C"},"message":"app down?","created_time":1790000007}}]}]}"#;
    let instagram = r#"{"object":"instagram","entry":[{"id":"IG1","time":1790000000,
        "changes":[{"field":"comments","value":{"id":"c1","from":{"id":"u1","username":"hana"},"text":"届かない","media":{"id":"m1"}}}],
        "messaging":[{"sender":{"id":"u3"},"recipient":{"id":"IG1"},"timestamp":1790000000500,"message":{"mid":"mid.1","text":"help"}}]}]}"#;
    for body in [page, instagram] {
        let signature = sign(META_SECRET.as_bytes(), body.as_bytes(), Scheme::META);
        let (status, text) = platform.post(
            &rt,
            &server.url("/webhooks/meta"),
            &[("x-hub-signature-256", signature)],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{text}");
    }
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "five Meta posts", |o| {
        o.on(&fx.topics().raw).count() >= 5
    });
    out.settle(QUIET, WITHIN);
    let posts = raw_posts(&fx, &out);
    let ids: BTreeSet<&str> = posts.iter().map(|(_, p)| p.id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "facebook:77_1",
            "facebook:77_2",
            "facebook:PAGE1_78",
            "instagram:c1",
            "instagram:mid.1"
        ])
    );
    let (record, first) = posts.iter().find(|(_, p)| p.id == "facebook:77_1").unwrap();
    assert_eq!(first.text, "星空モバイル圏外");
    assert_eq!(first.author.name, "山田");
    assert_eq!(record.key.as_deref(), Some("facebook:PAGE1_77"));
    assert_eq!(
        server
            .metrics
            .skipped
            .with_label_values(&["meta", "not_a_post"])
            .get(),
        1
    );
    server.stop(&rt);
}

/// X Account Activity: the CRC check answers what OpenSSL computes; a signed delivery of a
/// tweet, the account's own reply and a direct message publishes the two customer posts.
#[test]
fn x_crc_and_activity_events() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();
    // printf 'challenge-token-42' | openssl dgst -sha256 -hmac 'x-consumer-secret' -binary | base64
    let (status, body) = platform.get(&rt, &server.url("/webhooks/x?crc_token=challenge-token-42"));
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["response_token"],
        "sha256=fG34olnPA50mRLLOhfDRBiKlI8uh/nWm2c5KlvruIx8="
    );
    assert_eq!(platform.get(&rt, &server.url("/webhooks/x")).0, 400);

    let delivery = r#"{"for_user_id":"100","tweet_create_events":[
        {"created_at":"Mon May 19 14:01:46 +0000 2025","id_str":"1900","text":"@hoshizora 圏外",
         "extended_tweet":{"full_text":"@hoshizora 圏外が直らない"},"lang":"ja",
         "user":{"id_str":"7","screen_name":"ken","name":"Ken","followers_count":1200,"verified":false}},
        {"created_at":"Mon May 19 14:02:00 +0000 2025","id_str":"1901","text":"@ken DM us",
         "in_reply_to_status_id_str":"1900","user":{"id_str":"100","screen_name":"hoshizora"}}],
        "direct_message_events":[{"type":"message_create","id":"555","created_timestamp":"1790000000123",
         "message_create":{"target":{"recipient_id":"100"},"sender_id":"8","message_data":{"text":"請求が二重です"}}}],
        "users":{"8":{"id":"8","name":"Mio","screen_name":"mio","followers_count":5,"verified":true}}}"#;
    let signature = sign(X_SECRET.as_bytes(), delivery.as_bytes(), Scheme::X);
    let (status, _) = platform.post(
        &rt,
        &server.url("/webhooks/x"),
        &[("x-twitter-webhooks-signature", signature)],
        delivery.as_bytes(),
    );
    assert_eq!(status, 200);
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "two X posts", |o| {
        o.on(&fx.topics().raw).count() >= 2
    });
    out.settle(QUIET, WITHIN);
    let posts = raw_posts(&fx, &out);
    let tweet = posts
        .iter()
        .find(|(_, p)| p.id == "x:1900")
        .map(|(_, p)| p)
        .unwrap();
    assert_eq!(tweet.text, "@hoshizora 圏外が直らない");
    assert_eq!(tweet.author.followers, 1200);
    let dm = posts
        .iter()
        .find(|(_, p)| p.id == "x:dm:555")
        .map(|(_, p)| p)
        .unwrap();
    assert_eq!(dm.author.handle, "mio");
    assert_eq!(posts.len(), 2, "the account's own reply is not a post");
    server.stop(&rt);
}

/// The generic webhook takes Earshot's post JSON (here as JSON lines) with an HMAC header.
#[test]
fn generic_webhook_takes_post_json() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let body = "{\"id\":\"review:881\",\"platform\":\"review\",\"text\":\"サポートの対応が遅い\",\"author\":{\"id\":\"r9\"}}\n{\"id\":\"review:882\",\"text\":\"great app\"}\n";
    let signature = sign(GENERIC_SECRET.as_bytes(), body.as_bytes(), Scheme::GENERIC);
    let (status, _) = Platform::new().post(
        &rt,
        &server.url("/webhooks/generic"),
        &[("x-earshot-signature", signature)],
        body.as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(raw_count(&fx), 2);
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "two relayed posts", |o| {
        o.on(&fx.topics().raw).count() >= 2
    });
    let posts = raw_posts(&fx, &out);
    let platforms: BTreeSet<(&str, &str)> = posts
        .iter()
        .map(|(_, p)| (p.id.as_str(), p.platform.as_str()))
        .collect();
    assert_eq!(
        platforms,
        BTreeSet::from([("review:881", "review"), ("review:882", "relay")])
    );
    server.stop(&rt);
}

/// A signed body that is not JSON, and a signed Meta delivery with one broken change among
/// good ones: 200 (so the platform does not retry garbage), the good posts on the raw topic,
/// the rest on the dead-letter topic with its reason, code and source.
#[test]
fn malformed_payloads_go_to_the_dead_letter_topic() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();
    let garbage = b"{\"destination\":\"U1\",\"events\":[{\"type\":";
    assert_eq!(platform.line(&rt, &server, garbage).0, 200);
    let meta = r#"{"object":"page","entry":[{"id":"P","time":1,"changes":[
        {"field":"feed","value":{"item":"comment","verb":"add","comment_id":"1_2","from":{"id":"U"},"message":"no post id"}},
        {"field":"feed","value":{"item":"status","verb":"add","post_id":"P_9","from":{"id":"U"},"message":"fine"}}]}]}"#;
    let signature = sign(META_SECRET.as_bytes(), meta.as_bytes(), Scheme::META);
    let (status, _) = platform.post(
        &rt,
        &server.url("/webhooks/meta"),
        &[("x-hub-signature-256", signature)],
        meta.as_bytes(),
    );
    assert_eq!(status, 200);
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "two dead letters and a post", |o| {
        o.on(&fx.topics().dlq).count() >= 2 && o.on(&fx.topics().raw).count() >= 1
    });
    out.settle(QUIET, WITHIN);
    let dlq: Vec<_> = out.on(&fx.topics().dlq).collect();
    assert_eq!(dlq.len(), 2);
    let line = dlq
        .iter()
        .find(|r| r.header("earshot-source") == Some("line"))
        .unwrap();
    assert_eq!(line.payload, garbage);
    assert_eq!(line.header(DLQ_STAGE_HEADER), Some("ingest"));
    assert_eq!(line.header(DLQ_ERROR_CODE_HEADER), Some("invalid_json"));
    let meta_dl = dlq
        .iter()
        .find(|r| r.header("earshot-source") == Some("meta"))
        .unwrap();
    assert_eq!(meta_dl.header(DLQ_ERROR_CODE_HEADER), Some("missing_field"));
    assert!(meta_dl
        .header(DLQ_REASON_HEADER)
        .unwrap()
        .contains("post_id"));
    assert!(String::from_utf8_lossy(&meta_dl.payload).contains("no post id"));
    let posts = raw_posts(&fx, &out);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].1.id, "facebook:P_9");
    assert_eq!(
        server
            .metrics
            .dead_letters
            .with_label_values(&["line", "invalid_json"])
            .get(),
        1
    );
    server.stop(&rt);
}

/// Bodies over `max_body_bytes` are refused with 413 and publish nothing; one just under it
/// goes through.
#[test]
fn oversized_bodies_are_413() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let settings = IngestSettings {
        max_body_bytes: 16 * 1024,
        ..ingest_settings()
    };
    let server = Server::start(&rt, &fx.settings.kafka, &settings);
    let platform = Platform::new();
    let text = |len: usize| "あ".repeat(len / 3);
    let big = line_body(&[("E1", "U1", &text(20 * 1024), 1_790_000_000_000)], false);
    assert!(big.len() > 16 * 1024);
    assert_eq!(platform.line(&rt, &server, &big).0, 413);
    let small = line_body(&[("E2", "U1", &text(15 * 1024), 1_790_000_000_000)], false);
    assert!(small.len() < 16 * 1024);
    assert_eq!(platform.line(&rt, &server, &small).0, 200);
    assert_eq!(server.requests("line", "too_large"), 1);
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "the small post", |o| {
        o.on(&fx.topics().raw).count() >= 1
    });
    out.settle(QUIET, WITHIN);
    let posts = raw_posts(&fx, &out);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].1.id, "line:E2");
    server.stop(&rt);
}

/// With the broker down the request gets a 503 within the acknowledgement deadline (below
/// LINE's 2 s) and readiness says why; when the broker is back, LINE's retry gets a 200 and
/// the post is on the raw topic.
#[test]
fn broker_down_is_503_then_the_retry_succeeds() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let server = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();
    let warm = line_body(&[("E0", "U0", "warm up", 1_790_000_000_000)], false);
    assert_eq!(platform.line(&rt, &server, &warm).0, 200);

    fx.broker.cluster().broker_down(1).unwrap();
    let body = line_body(
        &[("E1", "U1", "星空モバイル、繋がらない", 1_790_000_001_000)],
        false,
    );
    let started = Instant::now();
    let (status, _) = platform.line(&rt, &server, &body);
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(server.requests("line", "unavailable"), 1);
    wait_until(WITHIN, "readiness to notice the broker is gone", || {
        server.health.not_ready_because() == Some("no broker connection")
    });

    fx.broker.cluster().broker_up(1).unwrap();
    let statuses = platform.line_until_accepted(&rt, &server, &body, 60);
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    wait_until(WITHIN, "readiness again", || server.health.is_ready());
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "the retried post", |o| {
        o.on(&fx.topics().raw)
            .any(|r| r.header(TRACE_HEADER) == Some("line:E1"))
    });
    server.stop(&rt);
}

/// The same LINE event delivered three times (LINE's redelivery to another replica, then to
/// the first one again) and a follow-up delivered twice: route makes one ticket, revision 1
/// and revision 2 once each. Replica A answers its repeat from memory (a counted
/// duplicate); replica B publishes again, and route ignores what it already folded.
#[test]
fn the_same_event_twice_is_one_ticket_and_one_revision() {
    let fx = Fixture::start(1, 1);
    let stages = [fx.spawn_analyze(), fx.spawn_route()];
    let rt = runtime();
    let a = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let b = Server::start(&rt, &fx.settings.kafka, &ingest_settings());
    let platform = Platform::new();
    let complaint = |redelivery| {
        line_body(
            &[(
                "01JDUP0000000000000000000A",
                "Udup",
                "星空モバイル、朝から圏外で電話が繋がらない。どうなってるの？",
                1_795_000_000_000,
            )],
            redelivery,
        )
    };
    let follow_up = line_body(
        &[(
            "01JDUP0000000000000000000B",
            "Udup",
            "まだ繋がらない",
            1_795_000_300_000,
        )],
        false,
    );
    assert_eq!(platform.line(&rt, &a, &complaint(false)).0, 200);
    assert_eq!(platform.line(&rt, &b, &complaint(true)).0, 200);
    assert_eq!(platform.line(&rt, &a, &complaint(true)).0, 200);
    assert_eq!(platform.line(&rt, &b, &follow_up).0, 200);
    assert_eq!(platform.line(&rt, &a, &follow_up).0, 200);
    assert_eq!(a.metrics.duplicates.with_label_values(&["line"]).get(), 1);
    assert_eq!(raw_count(&fx), 4, "both replicas published each post");

    let mut out = fx.collector(&fx.route_topics());
    read_until(&mut out, WITHIN, "route's outputs", |_| {
        harness::received(&fx.metrics, "route") >= 4
    });
    out.settle(Duration::from_secs(2), WITHIN);
    let revisions: Vec<(String, u32, String)> = expect::Routed::decode(out.records.iter())
        .into_iter()
        .filter_map(|r| match r {
            expect::Routed::Ticket {
                ticket_id,
                revision,
                post_id,
            } => Some((ticket_id, revision, post_id)),
            _ => None,
        })
        .collect();
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0].0, revisions[1].0, "one ticket");
    assert_eq!(
        (revisions[0].1, revisions[0].2.as_str()),
        (1, "line:01JDUP0000000000000000000A")
    );
    assert_eq!(
        (revisions[1].1, revisions[1].2.as_str()),
        (2, "line:01JDUP0000000000000000000B")
    );
    stop(&fx.shutdown, stages.into());
    a.stop(&rt);
    b.stop(&rt);
}
