//! Japanese national holidays (国民の祝日), computed rather than listed, so the calendar
//! needs no yearly update for the holidays the law fixes.
//!
//! Covered: the fixed-date holidays, the Happy Monday system (from 2000 for 成人の日 and
//! 体育の日, from 2003 for 海の日 and 敬老の日), the vernal and autumnal equinox days by the
//! standard approximation (exact against the published dates for 2000–2099; the
//! coefficients for 2100–2150 are the usual extrapolation), 振替休日 (a holiday on a Sunday
//! moves to the next day that is not a holiday), 国民の休日 (a day between two holidays),
//! and the one-off changes of 2019 (accession), 2020 and 2021 (Olympics). The equinox days
//! are announced officially each February for the next year: a future law or announcement
//! that differs must be added as a closed date (or an `open_dates` override).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The years [`japanese_holidays`] knows.
pub const JP_HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 2000..=2150;

/// One holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holiday {
    pub date: NaiveDate,
    /// The official Japanese name, e.g. `振替休日`.
    pub name: &'static str,
}

/// The national holidays of `year`, sorted by date; empty outside [`JP_HOLIDAY_YEARS`].
pub fn japanese_holidays(year: i32) -> Vec<Holiday> {
    if !JP_HOLIDAY_YEARS.contains(&year) {
        return Vec::new();
    }
    let mut days = statutory(year);
    days.sort();

    // 振替休日: from 2007 the next day that is not a holiday; before, only the Monday.
    let mut substitutes = Vec::new();
    for h in &days {
        if h.date.weekday() != Weekday::Sun {
            continue;
        }
        let mut next = h.date + Duration::days(1);
        if year >= 2007 {
            while days.iter().any(|d| d.date == next) {
                next += Duration::days(1);
            }
        } else if days.iter().any(|d| d.date == next) {
            continue;
        }
        substitutes.push(Holiday {
            date: next,
            name: "振替休日",
        });
    }

    // 国民の休日: a day whose previous and next days are both 国民の祝日. Substitute days are
    // not 国民の祝日 and do not count as ends; before 2007 a Sunday or a substitute day was
    // not one either.
    let mut citizens = Vec::new();
    for pair in days.windows(2) {
        if pair[1].date - pair[0].date != Duration::days(2) {
            continue;
        }
        let between = pair[0].date + Duration::days(1);
        let is_substitute = substitutes.iter().any(|s| s.date == between);
        if is_substitute || (year < 2007 && between.weekday() == Weekday::Sun) {
            continue;
        }
        citizens.push(Holiday {
            date: between,
            name: "国民の休日",
        });
    }

    days.extend(substitutes);
    days.extend(citizens);
    days.sort();
    days.dedup_by_key(|h| h.date);
    days
}

/// The 国民の祝日 themselves, unsorted, without substitute and citizens' holidays.
fn statutory(year: i32) -> Vec<Holiday> {
    let mut out = Vec::with_capacity(20);
    let mut add = |month: u32, day: u32, name: &'static str| {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            out.push(Holiday { date, name });
        }
    };
    add(1, 1, "元日");
    add(1, monday(year, 1, 2), "成人の日");
    add(2, 11, "建国記念の日");
    if year >= 2020 {
        add(2, 23, "天皇誕生日");
    }
    add(3, vernal_equinox_day(year), "春分の日");
    add(
        4,
        29,
        if year >= 2007 {
            "昭和の日"
        } else {
            "みどりの日"
        },
    );
    add(5, 3, "憲法記念日");
    if year >= 2007 {
        add(5, 4, "みどりの日");
    }
    add(5, 5, "こどもの日");
    match year {
        2000..=2002 => add(7, 20, "海の日"),
        2020 => add(7, 23, "海の日"),
        2021 => add(7, 22, "海の日"),
        _ => add(7, monday(year, 7, 3), "海の日"),
    }
    match year {
        2020 => add(8, 10, "山の日"),
        2021 => add(8, 8, "山の日"),
        2016.. => add(8, 11, "山の日"),
        _ => {}
    }
    if year <= 2002 {
        add(9, 15, "敬老の日");
    } else {
        add(9, monday(year, 9, 3), "敬老の日");
    }
    add(9, autumnal_equinox_day(year), "秋分の日");
    match year {
        ..=2019 => add(10, monday(year, 10, 2), "体育の日"),
        2020 => add(7, 24, "スポーツの日"),
        2021 => add(7, 23, "スポーツの日"),
        _ => add(10, monday(year, 10, 2), "スポーツの日"),
    }
    add(11, 3, "文化の日");
    add(11, 23, "勤労感謝の日");
    if year <= 2018 {
        add(12, 23, "天皇誕生日");
    }
    if year == 2019 {
        add(5, 1, "天皇の即位の日");
        add(10, 22, "即位礼正殿の儀の行われる日");
    }
    out
}

/// Day of the month of the `n`th Monday.
fn monday(year: i32, month: u32, n: u8) -> u32 {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, n).map_or(0, |d| d.day())
}

/// 春分の日 by the standard formula: int(base + 0.242194 (Y − 1980) − int((Y − 1980) / 4)).
pub fn vernal_equinox_day(year: i32) -> u32 {
    equinox(year, if year <= 2099 { 20.8431 } else { 21.8510 })
}

/// 秋分の日 by the standard formula.
pub fn autumnal_equinox_day(year: i32) -> u32 {
    equinox(year, if year <= 2099 { 23.2488 } else { 24.2488 })
}

fn equinox(year: i32, base: f64) -> u32 {
    let y = f64::from(year - 1980);
    let leap = f64::from((year - 1980).div_euclid(4));
    // The result is a day of the month (19..=24): the cast cannot truncate.
    (base + 0.242194 * y - leap).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equinoxes_match_published_dates() {
        // Published by the National Astronomical Observatory of Japan.
        let vernal = [
            (2000, 20),
            (2012, 20),
            (2023, 21),
            (2024, 20),
            (2025, 20),
            (2026, 20),
        ];
        for (y, d) in vernal {
            assert_eq!(vernal_equinox_day(y), d, "{y}");
        }
        let autumnal = [
            (2000, 23),
            (2012, 22),
            (2023, 23),
            (2024, 22),
            (2025, 23),
            (2026, 23),
        ];
        for (y, d) in autumnal {
            assert_eq!(autumnal_equinox_day(y), d, "{y}");
        }
    }
}
