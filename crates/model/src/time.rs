//! Reading the posts' times: what chrono's serde support reads, with a short path for the
//! form every platform sends (`2026-11-15T15:00:26Z`). chrono's general RFC 3339 parser
//! costs about as much as the rest of a post's decoding; anything but the short form (other
//! offsets, fractions, leap seconds, errors) still goes through it, so the values accepted,
//! the values read and the error messages are chrono's.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};

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

#[cfg(test)]
mod tests {
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
}
