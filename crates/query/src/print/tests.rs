use proptest::prelude::*;

use super::is_bare_word;
use crate::ast::{Cmp, Expr, RegexAtom, Term};
use crate::parse::parse;

fn canonical(src: &str) -> String {
    match parse(src) {
        Ok(e) => e.to_string(),
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

#[test]
fn prints_canonical_form() {
    let cases = [
        ("a b", "a AND b"),
        ("a or b and c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("-a", "NOT a"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("NOT (a b)", "NOT (a AND b)"),
        ("NOT (a NEAR/2 b)", "NOT a NEAR/2 b"),
        ("(NOT a) b", "NOT a AND b"),
        ("a NEAR/1 b near/2 c", "a NEAR/1 b NEAR/2 c"),
        ("a NEAR/1 (b NEAR/2 c)", "a NEAR/1 (b NEAR/2 c)"),
        ("(a OR b) NEAR/5 c", "(a OR b) NEAR/5 c"),
        ("((a))", "a"),
        ("hashtag:障害 mention:help", "#障害 AND @help"),
        ("LANG:JA Platform:X", "lang:ja AND platform:x"),
        ("author.verified:TRUE", "author.verified"),
        ("author.verified:false", "author.verified:false"),
        ("AUTHOR.followers>=10000", "author.followers>=10000"),
        ("regex:/a\\/b/i", "regex:/a\\/b/i"),
        ("regex:/a\\\\/", "regex:/a\\\\/"),
        ("9:00 example.com/x", "9:00 AND example.com/x"),
        ("\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\""),
        ("\"a\\b\"", "\"a\\\\b\""),
        ("\"a\"b", "\"a\" AND b"),
    ];
    for (src, printed) in cases {
        assert_eq!(canonical(src), printed, "for {src:?}");
        assert_eq!(
            canonical(printed),
            printed,
            "printing is not idempotent for {src:?}"
        );
    }
}

#[test]
fn quotes_terms_that_would_read_as_something_else() {
    let needs_quotes = [
        "",
        "and",
        "Or",
        "NOT",
        "near",
        "NEAR/3",
        "-x",
        "$x",
        "#x",
        "@x",
        "lang:ja",
        "hashtag:x",
        "Author:vip",
        "author.x",
        "regex:x",
        "a b",
        "a\u{3000}b",
        "a(b",
        "b)",
        "a\"b",
    ];
    for text in needs_quotes {
        assert!(!is_bare_word(text), "{text:?} must be quoted");
    }
    for text in [
        "a",
        "星空モバイル",
        "HZ-A52",
        "9:00",
        "x-",
        "a$",
        "andor",
        "nearby",
        "author",
    ] {
        assert!(is_bare_word(text), "{text:?} needs no quotes");
    }
    let t = Expr::Term(Term {
        text: "not".into(),
        phrase: false,
    });
    assert_eq!(t.to_string(), "\"not\"");
}

// ---- Property tests -------------------------------------------------------------------------

fn and(children: Vec<Expr>) -> Expr {
    Expr::And(
        children
            .into_iter()
            .flat_map(|c| match c {
                Expr::And(inner) => inner,
                other => vec![other],
            })
            .collect(),
    )
}

fn or(children: Vec<Expr>) -> Expr {
    Expr::Or(
        children
            .into_iter()
            .flat_map(|c| match c {
                Expr::Or(inner) => inner,
                other => vec![other],
            })
            .collect(),
    )
}

fn near(left: Expr, right: Expr, distance: u32) -> Expr {
    Expr::Near {
        left: Box::new(left),
        right: Box::new(right),
        distance,
    }
}

fn term() -> impl Strategy<Value = Expr> {
    let text = prop_oneof![
        "[a-zA-Z0-9]{1,6}",
        "[星空モバイル繋がらない圏外ー障害]{1,5}",
        "[a-z0-9星:/._#@$-]{1,6}",
        "[a-z \"\\\\()#@$星\u{3000}-]{1,6}",
        "\\PC{1,6}",
        prop::sample::select(vec![
            "AND",
            "or",
            "Not",
            "near",
            "NEAR/3",
            "lang:ja",
            "author.x",
            "regex:/a/",
            "-",
            "$",
            "9:00",
            "HZ-A52",
        ])
        .prop_map(str::to_owned),
    ];
    (text, any::<bool>()).prop_map(|(text, phrase)| {
        // A phrase of only spaces is rejected by the parser, so never generated.
        let text = if text.trim().is_empty() {
            format!("x{text}")
        } else {
            text
        };
        // The parser marks a term as a phrase whenever it had to be quoted.
        let phrase = phrase || !is_bare_word(&text);
        Expr::Term(Term { text, phrase })
    })
}

fn text_atom() -> impl Strategy<Value = Expr> {
    prop_oneof![
        4 => term(),
        1 => "[a-zA-Z0-9_星-]{1,6}".prop_map(Expr::Group),
        1 => "[a-zA-Z0-9_星空ー]{1,6}".prop_map(Expr::Hashtag),
        1 => "[a-zA-Z0-9_.星-][a-zA-Z0-9_.@-]{0,5}".prop_map(Expr::Mention),
        1 => (
            prop::sample::select(vec![
                "HZ-[A-Z][0-9]{2}",
                "a/b",
                r"a\\",
                r"x\\/y",
                r"\d+/\d+",
                "(no|weak) \"signal\"",
                "圏外|繋がらない",
            ]),
            any::<bool>()
        )
            .prop_map(|(p, case_insensitive)| Expr::Regex(RegexAtom {
                pattern: p.to_owned(),
                case_insensitive
            })),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    let cmp = prop::sample::select(vec![Cmp::Ge, Cmp::Gt, Cmp::Le, Cmp::Lt, Cmp::Eq]);
    prop_oneof![
        6 => text_atom(),
        1 => "[a-z]{2}(-[a-z0-9]{1,3})?".prop_map(Expr::Lang),
        1 => "[a-z0-9_.-]{1,6}".prop_map(Expr::Platform),
        1 => (cmp, any::<u64>()).prop_map(|(c, n)| Expr::Followers(c, n)),
        1 => any::<bool>().prop_map(Expr::Verified),
        1 => "[a-zA-Z0-9_星-]{1,6}".prop_map(Expr::AuthorList),
    ]
}

/// What the parser accepts on either side of NEAR.
fn near_operand() -> impl Strategy<Value = Expr> {
    text_atom().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(or),
            (inner.clone(), inner, 0..=crate::MAX_NEAR_DISTANCE)
                .prop_map(|(l, r, d)| near(l, r, d)),
        ]
    })
}

/// Trees of the shape the parser produces: flattened And/Or with at least two children, NEAR
/// only between text.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..5).prop_map(and),
            prop::collection::vec(inner, 2..5).prop_map(or),
            (near_operand(), near_operand(), 0..=crate::MAX_NEAR_DISTANCE)
                .prop_map(|(l, r, d)| near(l, r, d)),
        ]
    })
}

/// Query-like text: real tokens, broken tokens and noise, glued with or without spaces, so
/// that a good share of inputs parse and the rest fail in interesting places.
fn query_like() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        prop::sample::select(vec![
            "AND",
            "or",
            "NOT",
            "-",
            "(",
            ")",
            "NEAR/3",
            "near/0",
            "NEAR/",
            "\"",
            "\"a b\"",
            "$brand",
            "#星空障害",
            "@help",
            "lang:ja",
            "platform:x",
            "author.followers>=10",
            "author.verified",
            "author.verified:false",
            "author:vip",
            "regex:/a\\/b/i",
            "regex:/x/",
            "9:00",
            "圏外",
            "HZ-A52",
            "\\",
            "\\\"",
            "/",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,3}",
        "\\PC{1,3}",
    ];
    let sep = prop::sample::select(vec![" ", " ", "", "\n", "\u{3000}"]);
    prop::collection::vec((fragment, sep), 1..12)
        .prop_map(|parts| parts.into_iter().map(|(f, s)| f + s).collect::<String>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_any_string(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_unicode_and_controls(s in "[\\PC\\p{Cc}\"()\\\\/:#@$-]{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn printed_trees_parse_back_to_themselves(e in expr()) {
        let printed = e.to_string();
        prop_assert_eq!(parse(&printed), Ok(e), "printed as {:?}", printed);
    }

    #[test]
    fn printing_a_parsed_query_is_lossless(s in query_like()) {
        if let Ok(e) = parse(&s) {
            let printed = e.to_string();
            prop_assert_eq!(parse(&printed), Ok(e), "{:?} printed as {:?}", s, printed);
        }
    }
}
