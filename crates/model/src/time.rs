//! Reading and writing times as chrono's serde support does, with short paths.
//!
//! Reading: the form every platform sends (`2026-11-15T15:00:26Z`) is parsed directly.
//! chrono's general RFC 3339 parser costs about as much as the rest of a post's decoding;
//! anything but the short form (other offsets, fractions, leap seconds, errors) still goes
//! through it, so the values accepted, the values read and the error messages are chrono's.
//!
//! Writing: [`rfc3339`] writes chrono's bytes (UTC, `Z`, a fraction of 3, 6 or 9 digits when
//! there is one) without `core::fmt`, which chrono's `Display` goes through; the route stage
//! writes several times per post (ticket revisions and their changelog records), and that
//! was 5% of the fused stage's time. Leap seconds and years outside 0–9999 go to chrono.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::Serializer;

/// A time as RFC 3339 text: at most `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339 {
    text: [u8; 30],
    len: usize,
}

impl Rfc3339 {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// `time` as chrono's serde writes it (`to_rfc3339_opts(SecondsFormat::AutoSi, true)`), or
/// `None` for a leap second or a year outside 0–9999, which only chrono writes.
pub fn rfc3339(time: &DateTime<Utc>) -> Option<Rfc3339> {
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    put(&mut text[0..4], year.unsigned_abs());
    put(&mut text[5..7], time.month());
    put(&mut text[8..10], time.day());
    put(&mut text[11..13], time.hour());
    put(&mut text[14..16], time.minute());
    put(&mut text[17..19], time.second());
    let digits = match nanos {
        0 => 0,
        n if n % 1_000_000 == 0 => 3,
        n if n % 1_000 == 0 => 6,
        _ => 9,
    };
    let mut len = 19;
    if digits > 0 {
        put(&mut text[20..29], nanos);
        len = 20 + digits;
    }
    text[len] = b'Z';
    Some(Rfc3339 { text, len: len + 1 })
}

/// Writes `value`'s last `slots.len()` decimal digits into `slots`, zero-padded.
fn put(slots: &mut [u8], mut value: u32) {
    for slot in slots.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `serialize_with` for a time: chrono's string, written by [`rfc3339`] where it can.
pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match rfc3339(time) {
        Some(text) => serializer.serialize_str(text.as_str()),
        None => serde::Serialize::serialize(time, serializer),
    }
}

/// `serialize_with` for an optional time (with `skip_serializing_if = "Option::is_none"`,
/// or written as `null`).
pub fn serialize_option<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_some(&Fast(time)),
        None => serializer.serialize_none(),
    }
}

/// A time that serialises through [`serialize`].
struct Fast<'a>(&'a DateTime<Utc>);

impl serde::Serialize for Fast<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, serializer)
    }
}

/// `deserialize_with` for an optional time: `null` or absent is `None`.
pub(crate) fn deserialize_option<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_option(OptionVisitor)
}

struct OptionVisitor;

impl<'de> Visitor<'de> for OptionVisitor {
    type Value = Option<DateTime<Utc>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("option")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(TimeVisitor).map(Some)
    }
}

struct TimeVisitor;

impl Visitor<'_> for TimeVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        // chrono's words, so that errors read the same either way.
        formatter.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        match whole_seconds_utc(value.as_bytes()) {
            Some(time) => Ok(time),
            None => DateTime::<Utc>::deserialize(de::value::StrDeserializer::<E>::new(value)),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly, with a valid date and time (no leap second).
fn whole_seconds_utc(text: &[u8]) -> Option<DateTime<Utc>> {
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', i0, i1, b':', s0, s1, b'Z'] =
        text
    else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(&[y0, y1, y2, y3])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&[m0, m1])?, number(&[d0, d1])?)?
        .and_hms_opt(number(&[h0, h1])?, number(&[i0, i1])?, number(&[s0, s1])?)
        .map(|time| time.and_utc())
}

/// Times whose writing has an edge: the ends of years 0–9999, fractions of each width
/// (trailing zeros included), leap seconds, another offset. Shared by the tests of every
/// writer of times.
#[cfg(test)]
pub(crate) fn tricky_times() -> Vec<DateTime<Utc>> {
    [
        "2026-11-15T15:00:26Z",
        "1970-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999999999Z",
        "2026-11-15T15:00:26.5Z",
        "2026-11-15T15:00:26.050Z",
        "2026-11-15T15:00:26.000001Z",
        "2026-11-15T15:00:26.120300Z",
        "2026-11-15T15:00:26.123456789Z",
        "2026-11-15T15:00:26.000000001Z",
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.25Z",
        "2026-11-15T15:00:26+09:00",
    ]
    .iter()
    .map(|t| {
        t.parse::<DateTime<chrono::FixedOffset>>()
            .expect("a valid test time")
            .into()
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Fast {
        #[serde(default, deserialize_with = "deserialize_option")]
        t: Option<DateTime<Utc>>,
    }

    #[derive(Debug, Deserialize)]
    struct Chrono {
        #[serde(default)]
        t: Option<DateTime<Utc>>,
    }

    #[test]
    fn times_read_as_chrono_reads_them() {
        let values = [
            r#""2026-11-15T15:00:26Z""#,
            r#""1970-01-01T00:00:00Z""#,
            r#""0000-01-01T00:00:00Z""#,
            r#""9999-12-31T23:59:59Z""#,
            r#""2024-02-29T12:00:00Z""#,
            r#""2023-02-29T12:00:00Z""#,
            r#""2026-13-01T00:00:00Z""#,
            r#""2026-11-15T24:00:00Z""#,
            r#""2016-12-31T23:59:60Z""#,
            r#""2026-11-15T15:00:26.5Z""#,
            r#""2026-11-15T15:00:26+09:00""#,
            r#""2026-11-15t15:00:26z""#,
            r#""2026-11-15 15:00:26Z""#,
            r#""2026-11-15T15:00:2xZ""#,
            r#""+12026-11-15T15:00:26Z""#,
            r#""""#,
            r#""\u0032026-11-15T15:00:26Z""#,
            "null",
            "5",
            "[]",
        ];
        for value in values {
            let json = format!(r#"{{"t":{value}}}"#);
            let fast = serde_json::from_str::<Fast>(&json).map(|f| f.t);
            let chrono = serde_json::from_str::<Chrono>(&json).map(|c| c.t);
            match (fast, chrono) {
                (Ok(fast), Ok(chrono)) => assert_eq!(fast, chrono, "{value}"),
                (Err(fast), Err(chrono)) => {
                    assert_eq!(fast.to_string(), chrono.to_string(), "{value}")
                }
                (fast, chrono) => panic!("{value}: {fast:?} but chrono {chrono:?}"),
            }
        }
        let absent = serde_json::from_str::<Fast>("{}").unwrap();
        assert_eq!(absent.t, None);
    }

    #[derive(serde::Serialize)]
    struct Written {
        #[serde(serialize_with = "serialize")]
        t: DateTime<Utc>,
        #[serde(serialize_with = "serialize_option")]
        o: Option<DateTime<Utc>>,
    }

    #[derive(serde::Serialize)]
    struct ChronoWritten {
        t: DateTime<Utc>,
        o: Option<DateTime<Utc>>,
    }

    fn assert_written_as_chrono(t: DateTime<Utc>) {
        for o in [None, Some(t)] {
            let fast = serde_json::to_string(&Written { t, o }).unwrap();
            let chrono = serde_json::to_string(&ChronoWritten { t, o }).unwrap();
            assert_eq!(fast, chrono, "{t:?}");
        }
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        for time in tricky_times() {
            assert_written_as_chrono(time);
        }
        for far in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            assert!(rfc3339(&far).is_none());
            assert_written_as_chrono(far);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Years −250 to 11,500, fractions of every width, leap seconds (nanos ≥ 10⁹).
        #[test]
        fn any_time_is_written_as_chrono_writes_it(
            seconds in -70_000_000_000i64..300_000_000_000i64,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..2_000_000_000,
            ],
        ) {
            if let Some(time) = DateTime::<Utc>::from_timestamp(seconds, nanos) {
                assert_written_as_chrono(time);
            }
        }
    }
}
