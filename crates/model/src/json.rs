//! A JSON writer for the scored post, the record every analysed post becomes.
//!
//! It writes the same bytes as `serde_json::to_vec(&ScoredPost { .. })` (the tests compare the
//! two on every example post and on posts with every optional field set), at a fraction of the
//! cost: serde's `flatten` turns the scored post into a map, and serde_json escapes every key
//! byte by byte and formats each float and time through the general paths. Here keys are
//! constants, strings without anything to escape are copied in one go (checked eight bytes
//! at a time), and the common values (floats with at most three decimals, whole-second UTC
//! times) have a short path; anything else goes through serde_json for that one value, so
//! the output cannot drift from serde's.
//!
//! The structs are destructured without `..` below: a field added to [`Post`] or
//! [`Analysis`] does not compile until it is written here too.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    Analysis, Author, Engagement, Hit, HitKind, Intent, ModelFeature, ModelOutput, Post, Reason,
    ScoredPost, Sentiment, WatchMatch, WatchTerm,
};

mod ticket;

pub use ticket::{write_tagged_ticket, write_ticket};

impl ScoredPost {
    /// Appends the scored post as JSON to `out` (no newline): the bytes of
    /// `serde_json::to_vec(self)`, faster.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_scored_post(&self.post, &self.analysis, out);
    }

    /// The scored post as JSON: `serde_json::to_vec(self)`, faster.
    pub fn to_json_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out);
        out
    }
}

/// Appends `post` with its `analysis` as one scored-post JSON object to `out` (no newline),
/// as [`ScoredPost::write_json`] does, for a caller that holds the two apart.
pub fn write_scored_post(post: &Post, analysis: &Analysis, out: &mut Vec<u8>) {
    let mut json = Json { out };
    json.post_fields(post);
    json.raw(",\"analysis\":");
    json.analysis(analysis);
    json.raw("}");
}

struct Json<'a> {
    out: &'a mut Vec<u8>,
}

impl Json<'_> {
    fn raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    /// One value through serde_json: the reference output for what has no short path.
    fn serde<T: Serialize + ?Sized>(&mut self, value: &T) {
        // Writing a string, number or time into memory cannot fail.
        let _ = value.serialize(&mut serde_json::Serializer::new(&mut *self.out));
    }

    fn str(&mut self, text: &str) {
        if needs_escape(text.as_bytes()) {
            self.serde(text);
        } else {
            self.out.reserve(text.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'"');
        }
    }

    fn bool(&mut self, value: bool) {
        self.raw(if value { "true" } else { "false" });
    }

    fn u64(&mut self, value: u64) {
        self.raw(itoa::Buffer::new().format(value));
    }

    fn usize(&mut self, value: usize) {
        self.raw(itoa::Buffer::new().format(value));
    }

    /// Floats with at most three decimals (every rounded score) are written directly: their
    /// shortest round-trip form is that decimal, which is what serde_json writes.
    fn f64(&mut self, value: f64) {
        let Some(thousandths) = exact_thousandths(value) else {
            self.serde(&value);
            return;
        };
        // Below 10⁹: at most a sign, 9 digits, the point and 3 decimals.
        let mut text = [0u8; 16];
        let mut len = 0;
        if value.is_sign_negative() {
            text[0] = b'-';
            len = 1;
        }
        let whole = thousandths / 1000;
        if whole < 10 {
            text[len] = b'0' + whole as u8;
            len += 1;
        } else {
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(whole).as_bytes();
            text[len..len + digits.len()].copy_from_slice(digits);
            len += digits.len();
        }
        text[len] = b'.';
        len += 1;
        // The decimals without trailing zeros, at least one (`1.0`).
        let fraction = (thousandths % 1000) as u32;
        let decimals = [fraction / 100, fraction / 10 % 10, fraction % 10];
        let keep = if fraction.is_multiple_of(100) {
            1
        } else if fraction.is_multiple_of(10) {
            2
        } else {
            3
        };
        for decimal in &decimals[..keep] {
            text[len] = b'0' + *decimal as u8;
            len += 1;
        }
        self.out.extend_from_slice(&text[..len]);
    }

    /// Times of years 0–9999 (every platform's) are written directly, as chrono writes them
    /// (RFC 3339, `Z`); leap seconds and other years through chrono's serialiser.
    fn time(&mut self, time: &DateTime<Utc>) {
        match crate::time::rfc3339(time) {
            Some(text) => {
                self.out.push(b'"');
                self.out.extend_from_slice(text.as_str().as_bytes());
                self.out.push(b'"');
            }
            None => self.serde(time),
        }
    }

    fn opt_str(&mut self, key: &str, value: Option<&String>) {
        if let Some(value) = value {
            self.raw(key);
            self.str(value);
        }
    }

    fn opt_time(&mut self, key: &str, value: Option<&DateTime<Utc>>) {
        if let Some(value) = value {
            self.raw(key);
            self.time(value);
        }
    }

    /// `[a,b,…]` with `each` writing one item.
    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            each(self, item);
        }
        self.out.push(b']');
    }

    /// `key` then the list, left out when empty (`skip_serializing_if = "Vec::is_empty"`).
    fn non_empty_list<T>(&mut self, key: &str, items: &[T], each: impl FnMut(&mut Self, &T)) {
        if !items.is_empty() {
            self.raw(key);
            self.list(items, each);
        }
    }

    /// The post's fields, without the closing brace (the analysis follows them).
    fn post_fields(&mut self, post: &Post) {
        let Post {
            id,
            platform,
            url,
            author,
            conversation_id,
            in_reply_to,
            is_repost,
            text,
            lang,
            created_at,
            engagement,
            received_at,
        } = post;
        self.raw("{\"id\":");
        self.str(id);
        self.raw(",\"platform\":");
        self.str(platform);
        self.opt_str(",\"url\":", url.as_ref());
        self.raw(",\"author\":");
        self.author(author);
        self.opt_str(",\"conversation_id\":", conversation_id.as_ref());
        self.opt_str(",\"in_reply_to\":", in_reply_to.as_ref());
        self.raw(",\"is_repost\":");
        self.bool(*is_repost);
        self.raw(",\"text\":");
        self.str(text);
        self.opt_str(",\"lang\":", lang.as_ref());
        self.opt_time(",\"created_at\":", created_at.as_ref());
        let Engagement {
            likes,
            reposts,
            replies,
        } = engagement;
        self.raw(",\"engagement\":{\"likes\":");
        self.u64(*likes);
        self.raw(",\"reposts\":");
        self.u64(*reposts);
        self.raw(",\"replies\":");
        self.u64(*replies);
        self.raw("}");
        self.opt_time(",\"received_at\":", received_at.as_ref());
    }

    fn author(&mut self, author: &Author) {
        let Author {
            id,
            handle,
            name,
            followers,
            verified,
        } = author;
        self.raw("{\"id\":");
        self.str(id);
        self.raw(",\"handle\":");
        self.str(handle);
        self.raw(",\"name\":");
        self.str(name);
        self.raw(",\"followers\":");
        self.u64(*followers);
        self.raw(",\"verified\":");
        self.bool(*verified);
        self.raw("}");
    }

    /// The scores an analysis and a ticket's analysis share, in their order, after the
    /// opening brace: `{"lang":…,"watch":[…]`.
    fn scores(
        &mut self,
        lang: &str,
        sentiment: &Sentiment,
        intents: &[Intent],
        urgency: f64,
        influence: f64,
        watch: &[WatchMatch],
    ) {
        self.raw("{\"lang\":");
        self.str(lang);
        self.raw(",\"sentiment\":");
        self.sentiment(sentiment);
        self.raw(",\"intents\":");
        self.list(intents, |json, intent| json.name(intent.as_str()));
        self.raw(",\"urgency\":");
        self.f64(urgency);
        self.raw(",\"influence\":");
        self.f64(influence);
        self.raw(",\"watch\":");
        self.list(watch, Self::watch_match);
    }

    fn analysis(&mut self, analysis: &Analysis) {
        let Analysis {
            lang,
            sentiment,
            intents,
            urgency,
            influence,
            watch,
            hits,
            urgency_reasons,
            influence_reasons,
            hashtags,
            mentions,
            urls,
            explanation_truncated,
            flags,
            model,
        } = analysis;
        self.scores(lang, sentiment, intents, *urgency, *influence, watch);
        self.non_empty_list(",\"hits\":", hits, Self::hit);
        self.non_empty_list(",\"urgency_reasons\":", urgency_reasons, Self::reason);
        self.non_empty_list(",\"influence_reasons\":", influence_reasons, Self::reason);
        self.non_empty_list(",\"hashtags\":", hashtags, |json, s| json.str(s));
        self.non_empty_list(",\"mentions\":", mentions, |json, s| json.str(s));
        self.non_empty_list(",\"urls\":", urls, |json, s| json.str(s));
        if *explanation_truncated {
            self.raw(",\"explanation_truncated\":true");
        }
        self.raw(",\"flags\":");
        self.list(flags, |json, flag| json.name(flag.as_str()));
        if let Some(model) = model {
            self.raw(",\"model\":");
            self.model(model);
        }
        self.raw("}");
    }

    fn sentiment(&mut self, sentiment: &Sentiment) {
        let Sentiment { score, label } = sentiment;
        self.raw("{\"score\":");
        self.f64(*score);
        self.raw(",\"label\":");
        self.name(label.as_str());
        self.raw("}");
    }

    /// A name that needs no escaping (an enum variant's).
    fn name(&mut self, name: &str) {
        self.out.push(b'"');
        self.raw(name);
        self.out.push(b'"');
    }

    fn watch_match(&mut self, watch: &WatchMatch) {
        let WatchMatch { id, terms } = watch;
        self.raw("{\"id\":");
        self.str(id);
        self.raw(",\"terms\":");
        self.list(terms, |json, term| {
            let WatchTerm { term, start, end } = term;
            json.raw("{\"term\":");
            json.str(term);
            json.raw(",\"start\":");
            json.usize(*start);
            json.raw(",\"end\":");
            json.usize(*end);
            json.raw("}");
        });
        self.raw("}");
    }

    fn hit(&mut self, hit: &Hit) {
        let Hit {
            term,
            kind,
            start,
            end,
            value,
            contribution,
            intent,
            notes,
        } = hit;
        self.raw("{\"term\":");
        self.str(term);
        self.raw(",\"kind\":");
        self.name(hit_kind_name(*kind));
        self.raw(",\"start\":");
        self.usize(*start);
        self.raw(",\"end\":");
        self.usize(*end);
        self.raw(",\"value\":");
        self.f64(*value);
        self.raw(",\"contribution\":");
        self.f64(*contribution);
        if let Some(intent) = intent {
            self.raw(",\"intent\":");
            self.name(intent.as_str());
        }
        self.non_empty_list(",\"notes\":", notes, |json, s| json.str(s));
        self.raw("}");
    }

    fn reason(&mut self, reason: &Reason) {
        let Reason {
            factor,
            contribution,
            detail,
        } = reason;
        self.raw("{\"factor\":");
        self.str(factor);
        self.raw(",\"contribution\":");
        self.f64(*contribution);
        self.raw(",\"detail\":");
        self.str(detail);
        self.raw("}");
    }

    fn model(&mut self, model: &ModelOutput) {
        let ModelOutput {
            name,
            sentiment,
            intents,
            flags,
            features,
        } = model;
        self.raw("{\"name\":");
        self.str(name);
        self.raw(",\"sentiment\":{\"negative\":");
        self.f64(sentiment.negative);
        self.raw(",\"neutral\":");
        self.f64(sentiment.neutral);
        self.raw(",\"positive\":");
        self.f64(sentiment.positive);
        self.raw("},\"intents\":{\"complaint\":");
        self.f64(intents.complaint);
        self.raw(",\"question\":");
        self.f64(intents.question);
        self.raw(",\"request\":");
        self.f64(intents.request);
        self.raw(",\"outage\":");
        self.f64(intents.outage);
        self.raw(",\"praise\":");
        self.f64(intents.praise);
        self.raw("},\"flags\":{\"scam\":");
        self.f64(flags.scam);
        self.raw(",\"spam\":");
        self.f64(flags.spam);
        self.raw("}");
        self.non_empty_list(",\"features\":", features, Self::feature);
        self.raw("}");
    }

    fn feature(&mut self, feature: &ModelFeature) {
        let ModelFeature {
            decision,
            feature,
            weight,
            start,
            end,
        } = feature;
        self.raw("{\"decision\":");
        self.str(decision);
        self.raw(",\"feature\":");
        self.str(feature);
        self.raw(",\"weight\":");
        self.f64(*weight);
        if let Some(start) = start {
            self.raw(",\"start\":");
            self.usize(*start);
        }
        if let Some(end) = end {
            self.raw(",\"end\":");
            self.usize(*end);
        }
        self.raw("}");
    }
}

fn hit_kind_name(kind: HitKind) -> &'static str {
    match kind {
        HitKind::Sentiment => "sentiment",
        HitKind::Negation => "negation",
        HitKind::Modifier => "modifier",
        HitKind::Contrast => "contrast",
        HitKind::Intent => "intent",
        HitKind::Urgency => "urgency",
    }
}

/// `|value| × 1000` when `value` is a decimal with at most three digits after the point
/// (below 10⁹, where such decimals are far apart compared with a double's precision, so that
/// the decimal is the value's shortest round-trip form).
fn exact_thousandths(value: f64) -> Option<u64> {
    let scaled = value.abs() * 1000.0;
    // Also refuses NaN and the infinities.
    if scaled.is_nan() || scaled >= 1e12 {
        return None;
    }
    // Rounding by hand (`round` is a call on baseline x86-64); the check below is what
    // makes the result right, whatever the rounding.
    let thousandths = (scaled + 0.5) as u64;
    (thousandths as f64 / 1000.0 == value.abs()).then_some(thousandths)
}

/// Whether `bytes` hold a quote, a backslash or a control character (what JSON escapes),
/// eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        // A chunk of `chunks_exact(8)` always converts; zeros would only send it to serde.
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
        if control || has_zero(word ^ (ONES * u64::from(b'"'))) || has_zero(word ^ (ONES * 0x5C)) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests;
