use super::*;
use crate::ast::{Cmp, RegexAtom, Term};

fn word(text: &str) -> Expr {
    Expr::Term(Term {
        text: text.into(),
        phrase: false,
    })
}

fn phrase(text: &str) -> Expr {
    Expr::Term(Term {
        text: text.into(),
        phrase: true,
    })
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn near(left: Expr, distance: u32, right: Expr) -> Expr {
    Expr::Near {
        left: Box::new(left),
        right: Box::new(right),
        distance,
    }
}

fn ok(src: &str) -> Expr {
    match parse(src) {
        Ok(e) => e,
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

/// (line, column, message) of the error for `src`.
fn err(src: &str) -> (usize, usize, String) {
    match parse(src) {
        Ok(e) => panic!("{src:?} should not parse, got {e:?}"),
        Err(e) => (e.line, e.column, e.message),
    }
}

#[test]
fn words_including_japanese_and_punctuation() {
    assert_eq!(ok("星空モバイル"), word("星空モバイル"));
    assert_eq!(ok("HZ-A52"), word("HZ-A52"));
    assert_eq!(ok("9:00"), word("9:00"));
    assert_eq!(
        ok("https://example.com/x?a=1"),
        word("https://example.com/x?a=1")
    );
    assert_eq!(ok("foo:bar"), word("foo:bar"));
    assert_eq!(ok("author"), word("author"));
    assert_eq!(ok("a$b#c@d"), word("a$b#c@d"));
}

#[test]
fn phrases_and_escapes() {
    assert_eq!(ok(r#""no signal""#), phrase("no signal"));
    assert_eq!(ok(r#""HZ-A52""#), phrase("HZ-A52"));
    assert_eq!(ok(r#""say \"hi\"""#), phrase(r#"say "hi""#));
    assert_eq!(ok(r#""a\\b""#), phrase(r"a\b"));
    assert_eq!(ok(r#""C:\Users""#), phrase(r"C:\Users"));
    assert_eq!(ok(r#""AND""#), phrase("AND"));
    assert_eq!(ok("\"圏外\nです\""), phrase("圏外\nです"));
}

#[test]
fn prefixed_atoms() {
    assert_eq!(ok("$brand"), Expr::Group("brand".into()));
    assert_eq!(ok("#星空障害"), Expr::Hashtag("星空障害".into()));
    assert_eq!(ok("hashtag:星空障害"), Expr::Hashtag("星空障害".into()));
    assert_eq!(
        ok("@hoshizora_help"),
        Expr::Mention("hoshizora_help".into())
    );
    assert_eq!(
        ok("Mention:hoshizora_help"),
        Expr::Mention("hoshizora_help".into())
    );
    assert_eq!(
        ok("@user@mastodon.social"),
        Expr::Mention("user@mastodon.social".into())
    );
    assert_eq!(ok("lang:JA"), Expr::Lang("ja".into()));
    assert_eq!(ok("lang:zh-TW"), Expr::Lang("zh-tw".into()));
    assert_eq!(ok("platform:X"), Expr::Platform("x".into()));
    assert_eq!(ok("author:vip"), Expr::AuthorList("vip".into()));
}

#[test]
fn author_fields() {
    assert_eq!(
        ok("author.followers>=10000"),
        Expr::Followers(Cmp::Ge, 10000)
    );
    assert_eq!(ok("author.followers>5"), Expr::Followers(Cmp::Gt, 5));
    assert_eq!(ok("author.followers<=5"), Expr::Followers(Cmp::Le, 5));
    assert_eq!(ok("author.followers<5"), Expr::Followers(Cmp::Lt, 5));
    assert_eq!(ok("AUTHOR.FOLLOWERS=0"), Expr::Followers(Cmp::Eq, 0));
    assert_eq!(ok("author.verified"), Expr::Verified(true));
    assert_eq!(ok("author.verified:true"), Expr::Verified(true));
    assert_eq!(ok("author.verified:false"), Expr::Verified(false));
}

#[test]
fn regexes() {
    let re = |pattern: &str, case_insensitive| {
        Expr::Regex(RegexAtom {
            pattern: pattern.into(),
            case_insensitive,
        })
    };
    assert_eq!(
        ok("regex:/HZ-[A-Z][0-9]{2}/"),
        re("HZ-[A-Z][0-9]{2}", false)
    );
    assert_eq!(ok("regex:/hz-a5\\d/i"), re(r"hz-a5\d", true));
    assert_eq!(ok(r"regex:/a\/b/"), re("a/b", false));
    assert_eq!(ok(r"regex:/a\\/"), re(r"a\\", false));
    assert_eq!(
        ok(r#"regex:/(no|weak) "signal"/"#),
        re(r#"(no|weak) "signal""#, false)
    );
    assert_eq!(ok("(regex:/a/i)"), re("a", true));
    assert_eq!(
        ok("regex:/a/ b"),
        Expr::And(vec![re("a", false), word("b")])
    );
}

#[test]
fn precedence_or_and_not_near() {
    let (a, b, c, d) = (word("a"), word("b"), word("c"), word("d"));
    assert_eq!(
        ok("a OR b AND c"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        ok("a b OR c"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(ok("NOT a NEAR/2 b"), not(near(a.clone(), 2, b.clone())));
    assert_eq!(ok("-a b"), Expr::And(vec![not(a.clone()), b.clone()]));
    assert_eq!(
        ok("a NEAR/1 b NEAR/2 c"),
        near(near(a.clone(), 1, b.clone()), 2, c.clone())
    );
    assert_eq!(
        ok("a near/1 (b NEAR/2 c)"),
        near(a.clone(), 1, near(b.clone(), 2, c.clone()))
    );
    assert_eq!(ok("not not a"), not(not(a.clone())));
    assert_eq!(ok("--a"), not(not(a.clone())));
    assert_eq!(
        ok("(a OR b) and (c OR d)"),
        Expr::And(vec![
            Expr::Or(vec![a.clone(), b.clone()]),
            Expr::Or(vec![c.clone(), d.clone()])
        ])
    );
    assert_eq!(ok("(b OR c) NEAR/0 d"), near(Expr::Or(vec![b, c]), 0, d));
}

#[test]
fn nested_same_kind_is_flattened() {
    let abc = || vec![word("a"), word("b"), word("c")];
    assert_eq!(ok("(a OR b) OR c"), Expr::Or(abc()));
    assert_eq!(ok("a OR (b OR (c))"), Expr::Or(abc()));
    assert_eq!(ok("a (b AND c)"), Expr::And(abc()));
    assert_eq!(ok("((a))"), word("a"));
}

#[test]
fn multi_line_queries() {
    let q = "$brand AND (\n    繋がらない\n    OR 圏外\n)\nAND NOT $exclude\n";
    assert_eq!(
        ok(q),
        Expr::And(vec![
            Expr::Group("brand".into()),
            Expr::Or(vec![word("繋がらない"), word("圏外")]),
            not(Expr::Group("exclude".into())),
        ])
    );
    assert_eq!(
        err("$brand AND (\n  繋がらない\n  OR 圏外\n\n"),
        (
            3,
            8,
            "expected `)` to close `(` opened at line 1, column 12".into()
        )
    );
    assert_eq!(
        err("a\r\n  OR\n"),
        (
            2,
            5,
            "expected a term after OR, but the query ends there".into()
        )
    );
    // Ideographic space separates words like any other whitespace.
    assert_eq!(
        ok("圏外\u{3000}障害"),
        Expr::And(vec![word("圏外"), word("障害")])
    );
}

#[test]
fn errors_say_what_and_where() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("", 1, 1, "empty query"),
        ("  \n ", 1, 1, "empty query"),
        ("a AND (b OR c", 1, 14, "expected `)` to close `(` opened at column 7"),
        ("a)", 1, 2, "unmatched `)`: there is no `(` before it"),
        ("()", 1, 2, "empty parentheses"),
        ("a OR", 1, 5, "expected a term after OR, but the query ends there"),
        ("OR a", 1, 1, "OR needs a term on its left"),
        ("a AND AND b", 1, 7, "expected a term after AND, found AND"),
        ("a AND OR b", 1, 7, "expected a term after AND, found OR"),
        ("NOT", 1, 4, "expected a term after NOT, but the query ends there"),
        ("a -", 1, 4, "expected a term after `-`, but the query ends there"),
        ("a NEAR/ b", 1, 3, "NEAR/ needs a number, e.g. NEAR/3"),
        ("a NEAR/x b", 1, 3, "NEAR/ needs a number, e.g. NEAR/3"),
        ("a NEAR b", 1, 3, "NEAR needs a distance, e.g. NEAR/3"),
        ("a NEAR/1001 b", 1, 3, "NEAR distance must be at most 1000"),
        ("a NEAR/99999999999 b", 1, 3, "NEAR distance must be at most 1000"),
        ("NEAR/3 b", 1, 1, "NEAR/3 needs a term on its left"),
        ("a NEAR/3", 1, 9, "expected a term after NEAR/3, but the query ends there"),
        ("圏外 \"no signal", 1, 4, "unterminated phrase: add a closing `\"`"),
        ("\"\"", 1, 1, "empty phrase: put some text between the quotes"),
        ("\" \"", 1, 1, "empty phrase: put some text between the quotes"),
        ("regex:/a", 1, 1, "unterminated regex: add a closing `/`"),
        ("regex://", 1, 1, "empty regex: put a pattern between the slashes"),
        ("regex:/a/x", 1, 10, "unexpected `x` after the regex; the only flag is `i`, e.g. regex:/abc/i"),
        ("regex:abc", 1, 1, "regex: needs a pattern between slashes, e.g. regex:/HZ-[A-Z][0-9]{2}/"),
        ("$", 1, 1, "`$` must be followed by a term group name, e.g. $brand"),
        ("#", 1, 1, "`#` must be followed by a hashtag, e.g. #星空障害"),
        ("hashtag:", 1, 1, "`hashtag:` must be followed by a hashtag, e.g. #星空障害"),
        ("#foo!", 1, 1, "A hashtag may contain only letters, digits and _; found `!` in `#foo!`"),
        ("@@x", 1, 1, "write a handle with a single `@`, e.g. @hoshizora_help; found `@@x`"),
        ("lang:", 1, 1, "`lang:` must be followed by a language code, e.g. lang:ja"),
        ("lang:日本", 1, 1, "A language code may contain only ASCII letters, digits and -; found `日` in `lang:日本`"),
        ("author:", 1, 1, "`author:` must be followed by an author list name, e.g. author:vip"),
        ("author.followers", 1, 1, "author.followers needs a comparison and a number without spaces, e.g. author.followers>=10000"),
        ("author.followers!=3", 1, 1, "unknown comparison `!=`; use >=, >, <=, < or =, e.g. author.followers>=10000"),
        ("author.followers>=10k", 1, 1, "expected a whole number after `>=`, found `10k`; e.g. author.followers>=10000"),
        ("author.followers>=99999999999999999999999", 1, 1, "the number `99999999999999999999999` is too large"),
        ("author.verified:yes", 1, 1, "expected author.verified, author.verified:true or author.verified:false, found `author.verified:yes`"),
        ("author.name", 1, 1, "unknown author field `author.name`; use author.followers, author.verified or author:LIST"),
        ("a\u{7}b", 1, 2, "control character U+0007 is not allowed in a query"),
        ("a NEAR/3 lang:ja", 1, 10, "`lang:ja` is not in the text, so it cannot be used with NEAR/"),
        ("a NEAR/3 NOT b", 1, 10, "NOT cannot be used inside NEAR/; put it outside, e.g. NOT (a NEAR/3 b)"),
        ("(a b) NEAR/3 c", 1, 1, "AND cannot be used inside NEAR/; use OR between alternatives, e.g. (電池 OR battery) NEAR/5 HZ-A52"),
        ("(NOT a) NEAR/3 c", 1, 1, "NOT cannot be used inside NEAR/; put it outside, e.g. NOT (a NEAR/3 b)"),
    ];
    for &(src, line, column, message) in cases {
        assert_eq!(err(src), (line, column, message.to_owned()), "for {src:?}");
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(err("星空モバイル (圏外").1, 11);
    assert_eq!(err("星空モバイル AND").1, 11);
}

#[test]
fn invalid_regex_is_reported_at_the_atom() {
    let e = parse("圏外 OR regex:/HZ-[A-Z/").unwrap_err();
    assert_eq!((e.line, e.column), (1, 7));
    assert!(e.message.starts_with("invalid regex: "), "{}", e.message);
    assert_eq!(e.code(), "invalid_query");
    assert!(e.to_string().starts_with("line 1, column 7: invalid regex"));
}

#[test]
fn reasonable_unicode_regexes_fit_the_size_limit() {
    ok(r"regex:/\w{30}/i");
    ok(r"regex:/[\p{Han}\p{Katakana}ー]+モバイル/");
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    let ok_depth = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(ok(&ok_depth), word("a"));
    let too_deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(err(&too_deep).2.contains("nested too deeply"));
    assert!(err(&"(".repeat(100_000)).2.contains("nested too deeply"));
    assert!(err(&format!("{}a", "NOT ".repeat(100_000)))
        .2
        .contains("nested too deeply"));
    assert!(err(&format!("{}a", "-".repeat(100_000)))
        .2
        .contains("nested too deeply"));
    // NEAR chains nest the tree, so they count too; OR and AND lists stay flat.
    let chain = |n: usize| vec!["a"; n + 1].join(" NEAR/1 ");
    assert!(parse(&chain(MAX_DEPTH)).is_ok());
    assert!(err(&chain(50_000)).2.contains("nested too deeply"));
    let ors = vec!["a"; 50_000].join(" OR ");
    assert!(matches!(ok(&ors), Expr::Or(v) if v.len() == 50_000));
}

#[test]
fn terms_groups_and_walk() {
    let q = ok(r#"$brand (圏外 OR "no signal") NEAR/3 #障害 -$exclude 圏外"#);
    let terms: Vec<&str> = q.terms().iter().map(|t| t.text.as_str()).collect();
    assert_eq!(terms, ["圏外", "no signal", "圏外"]);
    assert_eq!(q.groups(), ["brand", "exclude"]);
    let mut nodes = 0;
    q.walk(&mut |_| nodes += 1);
    // And, $brand, Near, Or, 圏外, "no signal", #障害, Not, $exclude, 圏外
    assert_eq!(nodes, 10);
}

#[test]
fn can_match_without_terms() {
    let cases = [
        ("圏外", false),
        ("$brand", false),
        ("#星空障害 OR @hoshizora_help", false),
        ("regex:/HZ/", false),
        ("NOT spam", true),
        ("-spam", true),
        ("NOT NOT spam", false),
        ("lang:ja", true),
        ("platform:x", true),
        ("author.verified", true),
        ("author.followers>=10000", true),
        ("author:vip", true),
        ("$brand AND lang:ja", false),
        ("$brand OR lang:ja", true),
        ("$brand AND NOT spam", false),
        ("NOT ($brand AND 圏外)", true),
        ("NOT ($brand OR lang:ja)", true),
        ("NOT (NOT $brand OR NOT 圏外)", false),
        ("a NEAR/3 b", false),
        ("NOT (a NEAR/3 b)", true),
        ("lang:ja AND lang:en", true),
    ];
    for (src, expected) in cases {
        assert_eq!(ok(src).can_match_without_terms(), expected, "for {src:?}");
    }
}

#[test]
fn cmp_holds() {
    assert!(Cmp::Ge.holds(10, 10) && !Cmp::Ge.holds(9, 10));
    assert!(Cmp::Gt.holds(11, 10) && !Cmp::Gt.holds(10, 10));
    assert!(Cmp::Le.holds(10, 10) && !Cmp::Le.holds(11, 10));
    assert!(Cmp::Lt.holds(9, 10) && !Cmp::Lt.holds(10, 10));
    assert!(Cmp::Eq.holds(10, 10) && !Cmp::Eq.holds(9, 10));
}

#[test]
fn examples_from_the_user_documentation_parse() {
    let examples = [
        r#"$brand AND (繋がらない OR 圏外 OR "no signal") AND NOT $exclude"#,
        "$brand 繋がらない OR 圏外",
        r#""HZ-A52" NEAR/5 battery"#,
        "(電池 OR battery OR バッテリー) NEAR/5 HZ-A52",
        "$brand NEAR/10 (解約 OR cancel)",
        "#星空障害 hashtag:星空障害 @hoshizora_help mention:hoshizora_help",
        "lang:ja platform:x author.followers>=10000 author.verified author.verified:false",
        "author:vip regex:/HZ-[A-Z][0-9]{2}/ regex:/hz-a\\d{2}/i @user@mastodon.example",
        "(9:00 OR 9時) 圏外",
        "https://status.hoshizora.example/outage",
        r##""not working" "-5G" "#1" "lang:ja" "NEAR/3""##,
        "$brand AND (\n    繋がらない OR 圏外 OR \"no signal\" OR #星空障害\n    OR regex:/HZ-[A-Z][0-9]{2}/ NEAR/5 (故障 OR broken)\n)\nAND NOT $exclude\nAND NOT author:blocklist\n",
        "@hoshizora_help AND (遅い OR 繋がらない)",
        "#星空障害 OR ($brand 障害 lang:ja)",
        "$brand AND author.followers>=10000 AND NOT author:vip",
        "$brand AND author.verified AND platform:x",
    ];
    for src in examples {
        ok(src);
    }
    assert_eq!(
        err("$brand AND (繋がらない OR 圏外"),
        (
            1,
            24,
            "expected `)` to close `(` opened at column 12".into()
        )
    );
    assert_eq!(
        ok("$brand 圏外 -$exclude").to_string(),
        "$brand AND 圏外 AND NOT $exclude"
    );
}
