//! Splitting a query into tokens, and deciding what a bare word means.
//!
//! Atoms are recognised here rather than in the parser because what a word means depends only
//! on its own characters (`#tag`, `lang:ja`, `NEAR/3`, `9:00`). Keeping that decision in one
//! function, [`classify_word`], lets the printer ask the same function whether a term can be
//! written bare, which is what makes printing and re-parsing give back the same tree.

use crate::ast::{Cmp, Expr, RegexAtom, Term};
use crate::{MAX_NEAR_DISTANCE, REGEX_SIZE_LIMIT};

/// A 1-based position, counted in characters, as shown to the person who wrote the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokKind {
    LParen,
    RParen,
    /// The word `NOT`.
    Not,
    /// A `-` at the start of a token, the other spelling of `NOT`.
    Minus,
    And,
    Or,
    Near(u32),
    /// A complete leaf: term, `$group`, `#tag`, `lang:..`, `regex:/../` ...
    Atom(Expr),
}

impl TokKind {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            TokKind::LParen => "`(`".to_owned(),
            TokKind::RParen => "`)`".to_owned(),
            TokKind::Not => "NOT".to_owned(),
            TokKind::Minus => "`-`".to_owned(),
            TokKind::And => "AND".to_owned(),
            TokKind::Or => "OR".to_owned(),
            TokKind::Near(n) => format!("NEAR/{n}"),
            TokKind::Atom(e) => format!("`{e}`"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokKind,
    pub(crate) pos: Pos,
}

/// A lexing failure: where and what, turned into a `ParseError` by the parser.
pub(crate) type LexError = (Pos, String);

/// The tokens of `src` and the position just after the last one, where "the query ends there"
/// errors point (rather than at trailing newlines).
pub(crate) fn tokenize(src: &str) -> Result<(Vec<Token>, Pos), LexError> {
    let mut lexer = Lexer {
        rest: src,
        pos: Pos { line: 1, column: 1 },
    };
    let mut tokens = Vec::new();
    let mut end = lexer.pos;
    loop {
        while lexer.peek().is_some_and(char::is_whitespace) {
            lexer.bump();
        }
        let start = lexer.pos;
        let Some(c) = lexer.peek() else { break };
        let kind = match c {
            '(' => lexer.single(TokKind::LParen),
            ')' => lexer.single(TokKind::RParen),
            // Only at the start of a token: inside a word (`HZ-A52`) a `-` is just a character.
            '-' => lexer.single(TokKind::Minus),
            '"' => lexer.phrase()?,
            _ if c.is_control() => return Err((start, control_char_message(c))),
            _ if strip_prefix_ci(lexer.rest, "regex:/").is_some() => lexer.regex()?,
            _ => {
                let word = lexer.word();
                classify_word(word).map_err(|message| (start, message))?
            }
        };
        tokens.push(Token { kind, pos: start });
        end = lexer.pos;
    }
    Ok((tokens, end))
}

/// Characters that end a bare word. Control characters end it too, so that they are reported
/// as errors instead of hiding inside a term.
pub(crate) fn ends_word(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '"')
}

struct Lexer<'a> {
    rest: &'a str,
    pos: Pos,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.rest = self.rest.get(c.len_utf8()..).unwrap_or("");
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn single(&mut self, kind: TokKind) -> TokKind {
        self.bump();
        kind
    }

    fn word(&mut self) -> &'a str {
        let len = self
            .rest
            .char_indices()
            .find(|&(_, c)| ends_word(c))
            .map_or(self.rest.len(), |(i, _)| i);
        let word = self.rest.get(..len).unwrap_or("");
        for _ in word.chars() {
            self.bump();
        }
        word
    }

    /// `"..."` with `\"` and `\\`; any other backslash is kept as written, so that a pasted
    /// `C:\path` means what it says.
    fn phrase(&mut self) -> Result<TokKind, LexError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            let here = self.pos;
            match self.bump() {
                None => return Err((start, "unterminated phrase: add a closing `\"`".into())),
                Some('"') => break,
                Some('\\') => match self.peek() {
                    Some(c @ ('"' | '\\')) => {
                        self.bump();
                        text.push(c);
                    }
                    _ => text.push('\\'),
                },
                Some(c) if c.is_control() && !c.is_whitespace() => {
                    return Err((here, control_char_message(c)))
                }
                Some(c) => text.push(c),
            }
        }
        if text.trim().is_empty() {
            return Err((
                start,
                "empty phrase: put some text between the quotes".into(),
            ));
        }
        Ok(TokKind::Atom(Expr::Term(Term { text, phrase: true })))
    }

    /// `regex:/pattern/` with an optional `i` flag. The pattern may hold spaces, quotes and
    /// parentheses; only `/` must be escaped, as `\/`. Other escapes are left for the regex
    /// engine, and a `\` always takes the next character with it so that `\\/` ends the pattern.
    fn regex(&mut self) -> Result<TokKind, LexError> {
        let start = self.pos;
        for _ in "regex:/".chars() {
            self.bump();
        }
        let unterminated = || (start, "unterminated regex: add a closing `/`".to_owned());
        let mut pattern = String::new();
        loop {
            let here = self.pos;
            match self.bump() {
                None => return Err(unterminated()),
                Some('/') => break,
                Some('\\') => match self.bump() {
                    None => return Err(unterminated()),
                    Some('/') => pattern.push('/'),
                    Some(c) => {
                        pattern.push('\\');
                        pattern.push(c);
                    }
                },
                Some(c) if c.is_control() && !c.is_whitespace() => {
                    return Err((here, control_char_message(c)))
                }
                Some(c) => pattern.push(c),
            }
        }
        let case_insensitive = self.peek() == Some('i');
        if case_insensitive {
            self.bump();
        }
        if let Some(c) = self.peek().filter(|&c| !ends_word(c)) {
            return Err((
                self.pos,
                format!(
                    "unexpected `{c}` after the regex; the only flag is `i`, e.g. regex:/abc/i"
                ),
            ));
        }
        if pattern.is_empty() {
            return Err((
                start,
                "empty regex: put a pattern between the slashes".into(),
            ));
        }
        if let Err(e) = regex::RegexBuilder::new(&pattern)
            .case_insensitive(case_insensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            return Err((start, format!("invalid regex: {e}")));
        }
        Ok(TokKind::Atom(Expr::Regex(RegexAtom {
            pattern,
            case_insensitive,
        })))
    }
}

fn control_char_message(c: char) -> String {
    format!(
        "control character U+{:04X} is not allowed in a query",
        u32::from(c)
    )
}

/// `word` without `prefix`, compared ASCII-case-insensitively. Returns `None` rather than
/// slicing when the prefix length is not a character boundary of `word`.
fn strip_prefix_ci<'w>(word: &'w str, prefix: &str) -> Option<&'w str> {
    let head = word.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        word.get(prefix.len()..)
    } else {
        None
    }
}

/// What a bare word means. Keywords and prefixes are matched ignoring ASCII case. A word with
/// a `:` whose prefix is not one of ours (`9:00`, `https://example.com/x`) is a plain term; a
/// known prefix or the `author.` namespace with a bad value is an error, never a silent term.
pub(crate) fn classify_word(word: &str) -> Result<TokKind, String> {
    for (keyword, kind) in [
        ("AND", TokKind::And),
        ("OR", TokKind::Or),
        ("NOT", TokKind::Not),
    ] {
        if word.eq_ignore_ascii_case(keyword) {
            return Ok(kind);
        }
    }
    // A forgotten `/n` would otherwise silently search for the word "near".
    if word.eq_ignore_ascii_case("NEAR") {
        return Err("NEAR needs a distance, e.g. NEAR/3".into());
    }
    if let Some(n) = strip_prefix_ci(word, "NEAR/") {
        return near_distance(n).map(TokKind::Near);
    }
    let atom = if let Some(v) = word.strip_prefix('$') {
        Expr::Group(value(v, GROUP, "$")?)
    } else if let Some(v) = word.strip_prefix('#') {
        Expr::Hashtag(value(v, HASHTAG, "#")?)
    } else if let Some(v) = strip_prefix_ci(word, "hashtag:") {
        Expr::Hashtag(value(v, HASHTAG, "hashtag:")?)
    } else if let Some(v) = word.strip_prefix('@') {
        Expr::Mention(mention(v, "@")?)
    } else if let Some(v) = strip_prefix_ci(word, "mention:") {
        Expr::Mention(mention(v, "mention:")?)
    } else if let Some(v) = strip_prefix_ci(word, "lang:") {
        Expr::Lang(value(v, LANG, "lang:")?.to_ascii_lowercase())
    } else if let Some(v) = strip_prefix_ci(word, "platform:") {
        Expr::Platform(value(v, PLATFORM, "platform:")?.to_ascii_lowercase())
    } else if let Some(v) = strip_prefix_ci(word, "author:") {
        Expr::AuthorList(value(v, AUTHOR_LIST, "author:")?)
    } else if let Some(field) = strip_prefix_ci(word, "author.") {
        author_field(word, field)?
    } else if strip_prefix_ci(word, "regex:").is_some() {
        return Err("regex: needs a pattern between slashes, e.g. regex:/HZ-[A-Z][0-9]{2}/".into());
    } else {
        Expr::Term(Term {
            text: word.to_owned(),
            phrase: false,
        })
    };
    Ok(TokKind::Atom(atom))
}

fn near_distance(digits: &str) -> Result<u32, String> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("NEAR/ needs a number, e.g. NEAR/3".into());
    }
    match digits.parse::<u32>() {
        Ok(n) if n <= MAX_NEAR_DISTANCE => Ok(n),
        _ => Err(format!("NEAR distance must be at most {MAX_NEAR_DISTANCE}")),
    }
}

/// The rules for one kind of prefixed value, for validation and its error messages.
struct ValueRule {
    what: &'static str,
    example: &'static str,
    allowed: &'static str,
    ok: fn(char) -> bool,
}

const GROUP: ValueRule = ValueRule {
    what: "a term group name",
    example: "$brand",
    allowed: "letters, digits, _ and -",
    ok: |c| c.is_alphanumeric() || matches!(c, '_' | '-'),
};
// Platforms allow letters (any script), digits and `_` in hashtags; anything else would never
// match, so say so now rather than let the watchlist stay silent.
const HASHTAG: ValueRule = ValueRule {
    what: "a hashtag",
    example: "#星空障害",
    allowed: "letters, digits and _",
    ok: |c| c.is_alphanumeric() || c == '_',
};
// `.`, `-` and an inner `@` cover Bluesky (`name.bsky.social`) and Mastodon (`name@host`).
const MENTION: ValueRule = ValueRule {
    what: "a handle",
    example: "@hoshizora_help",
    allowed: "letters, digits, _, ., - and @",
    ok: |c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'),
};
const LANG: ValueRule = ValueRule {
    what: "a language code",
    example: "lang:ja",
    allowed: "ASCII letters, digits and -",
    ok: |c| c.is_ascii_alphanumeric() || c == '-',
};
const PLATFORM: ValueRule = ValueRule {
    what: "a platform name",
    example: "platform:x",
    allowed: "ASCII letters, digits, _, . and -",
    ok: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
};
const AUTHOR_LIST: ValueRule = ValueRule {
    what: "an author list name",
    example: "author:vip",
    allowed: "letters, digits, _ and -",
    ok: |c| c.is_alphanumeric() || matches!(c, '_' | '-'),
};

fn value(v: &str, rule: ValueRule, prefix: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err(format!(
            "`{prefix}` must be followed by {}, e.g. {}",
            rule.what, rule.example
        ));
    }
    match v.chars().find(|&c| !(rule.ok)(c)) {
        None => Ok(v.to_owned()),
        Some(c) => Err(format!(
            "{} may contain only {}; found `{c}` in `{prefix}{v}`",
            capitalize(rule.what),
            rule.allowed
        )),
    }
}

/// A handle may contain `@` (Mastodon's `name@host`) but not start with one: `@@x` would
/// otherwise mean the same as `@x` and could not print back as written.
fn mention(v: &str, prefix: &str) -> Result<String, String> {
    if v.starts_with('@') {
        return Err(format!(
            "write a handle with a single `@`, e.g. @hoshizora_help; found `{prefix}{v}`"
        ));
    }
    value(v, MENTION, prefix)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// `author.followers<cmp><n>`, `author.verified[:true|:false]`. The whole `author.` namespace
/// is reserved so that a typo such as `author.follower>=10` is an error, not a search for it.
fn author_field(word: &str, field: &str) -> Result<Expr, String> {
    if let Some(rest) = strip_prefix_ci(field, "followers") {
        return followers(rest);
    }
    if let Some(rest) = strip_prefix_ci(field, "verified") {
        return if rest.is_empty() || rest.eq_ignore_ascii_case(":true") {
            Ok(Expr::Verified(true))
        } else if rest.eq_ignore_ascii_case(":false") {
            Ok(Expr::Verified(false))
        } else {
            Err(format!(
                "expected author.verified, author.verified:true or author.verified:false, found `{word}`"
            ))
        };
    }
    Err(format!(
        "unknown author field `{word}`; use author.followers, author.verified or author:LIST"
    ))
}

fn followers(rest: &str) -> Result<Expr, String> {
    const EXAMPLE: &str = "e.g. author.followers>=10000";
    if rest.is_empty() {
        return Err(format!(
            "author.followers needs a comparison and a number without spaces, {EXAMPLE}"
        ));
    }
    let (cmp, number) = [
        (">=", Cmp::Ge),
        ("<=", Cmp::Le),
        (">", Cmp::Gt),
        ("<", Cmp::Lt),
        ("=", Cmp::Eq),
    ]
    .into_iter()
    .find_map(|(op, cmp)| rest.strip_prefix(op).map(|n| (cmp, n)))
    .ok_or_else(|| {
        let op: String = rest.chars().take_while(|c| !c.is_ascii_digit()).collect();
        format!("unknown comparison `{op}`; use >=, >, <=, < or =, {EXAMPLE}")
    })?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a whole number after `{cmp}`, found `{number}`; {EXAMPLE}"
        ));
    }
    let n = number
        .parse::<u64>()
        .map_err(|_| format!("the number `{number}` is too large"))?;
    Ok(Expr::Followers(cmp, n))
}
