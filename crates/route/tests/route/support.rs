//! Builders for posts, times and routers.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Tokyo;
use earshot_model::{
    Analysis, Author, Intent, Post, ScoredPost, Sentiment, Ticket, WatchMatch, WatchTerm,
};
use earshot_route::{ConfigFile, RouteOutput, Router};

pub const ROUTE_TOML: &str = include_str!("../../../../examples/route.toml");
pub const RULES_TOML: &str = include_str!("../../../../examples/rules.toml");
pub const WATCHLISTS: &[&str] = &[
    "hoshizora",
    "hoshizora_hikari",
    "sorapay",
    "devices",
    "outage_area",
    "competitors",
];

pub fn example_files() -> [ConfigFile<'static>; 2] {
    [
        ConfigFile {
            name: "examples/route.toml",
            text: ROUTE_TOML,
        },
        ConfigFile {
            name: "examples/rules.toml",
            text: RULES_TOML,
        },
    ]
}

pub fn example_router() -> Router {
    Router::from_files(&example_files(), Some(WATCHLISTS))
        .expect("example config loads")
        .0
}

pub fn router(text: &str) -> Router {
    match Router::from_files(
        &[ConfigFile {
            name: "test.toml",
            text,
        }],
        None,
    ) {
        Ok((r, _)) => r,
        Err(e) => panic!("{e}"),
    }
}

/// A post by `author` matching `watch` with `intents` and sentiment `score`.
pub fn post(id: &str, author: &str, watch: &[&str], intents: &[Intent], score: f64) -> ScoredPost {
    ScoredPost {
        post: Post {
            id: id.into(),
            platform: "x".into(),
            author: Author {
                id: author.into(),
                handle: author.into(),
                ..Author::default()
            },
            text: "星空モバイル 圏外".into(),
            lang: Some("ja".into()),
            ..Post::default()
        },
        analysis: Analysis {
            lang: "ja".into(),
            sentiment: Sentiment::from_score(score),
            intents: intents.to_vec(),
            urgency: 0.3,
            influence: 0.1,
            watch: watch
                .iter()
                .map(|w| WatchMatch {
                    id: (*w).into(),
                    terms: vec![WatchTerm {
                        term: "圏外".into(),
                        start: 16,
                        end: 22,
                    }],
                })
                .collect(),
            ..Analysis::default()
        },
    }
}

pub fn in_thread(mut p: ScoredPost, conversation: &str) -> ScoredPost {
    p.post.conversation_id = Some(conversation.into());
    p
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC time")
}

pub fn tokyo(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Tokyo
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid Tokyo time")
        .with_timezone(&Utc)
}

pub fn tickets(outputs: &[RouteOutput]) -> Vec<&Ticket> {
    outputs.iter().filter_map(RouteOutput::as_ticket).collect()
}

pub fn only_ticket(outputs: &[RouteOutput]) -> &Ticket {
    let t = tickets(outputs);
    assert_eq!(t.len(), 1, "{outputs:#?}");
    t[0]
}
