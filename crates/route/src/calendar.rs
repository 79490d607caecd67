//! Business calendars: when a queue's team is at work, so that SLA clocks only run then.
//!
//! A calendar has a time zone (any IANA zone), opening hours per weekday in local wall time
//! (several intervals a day, e.g. a lunch break), closed days (built-in Japanese national
//! holidays, dates, yearly dates such as 12-29…01-03, loaded holiday lists) and days open
//! despite all that. Or it is open 24/7.
//!
//! Durations are added by walking the open intervals as UTC instants: an interval on the
//! day clocks change is as long as the wall clock says (09:00–18:00 is 9 hours, a
//! 00:00–24:00 day is 23 hours in spring), which is what a team on that clock experiences.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::holidays_jp::{japanese_holidays, JP_HOLIDAY_YEARS};

/// Longest stretch a due time is searched for. A calendar open at least one hour a year
/// never reaches it; one that is never open gives `None` instead of looping.
const MAX_DAYS_SEARCHED: i64 = 3 * 366;

/// Minutes after local midnight, `0..=1440`.
type Minute = u16;

/// A business calendar. Build one with [`Calendar::new`] and the `with_*` methods, or from
/// the route configuration.
#[derive(Debug, Clone)]
pub struct Calendar {
    id: String,
    tz: Tz,
    always_open: bool,
    /// Open intervals per weekday, Monday first, sorted and not overlapping.
    week: [Vec<(Minute, Minute)>; 7],
    closed_dates: DateSet,
    /// Month and day closed every year.
    closed_annually: Vec<(u32, u32)>,
    open_dates: DateSet,
}

/// A set of dates: a bit per day for 2000–2199 (a due-time search tests several days, so
/// membership must be cheap), a tree beyond.
#[derive(Debug, Clone, Default)]
struct DateSet {
    bits: Vec<u64>,
    other: BTreeSet<NaiveDate>,
}

/// `num_days_from_ce` of 2000-01-01, and the days the bit set covers from there.
const BITS_FROM: i32 = 730_120;
const BITS_DAYS: i32 = 200 * 366;

impl DateSet {
    fn offset(date: NaiveDate) -> Option<usize> {
        let n = date.num_days_from_ce() - BITS_FROM;
        (0..BITS_DAYS).contains(&n).then_some(n as usize)
    }

    fn insert(&mut self, date: NaiveDate) {
        match DateSet::offset(date) {
            Some(i) => {
                if self.bits.len() <= i / 64 {
                    self.bits.resize(i / 64 + 1, 0);
                }
                self.bits[i / 64] |= 1 << (i % 64);
            }
            None => {
                self.other.insert(date);
            }
        }
    }

    fn contains(&self, date: NaiveDate) -> bool {
        match DateSet::offset(date) {
            Some(i) => self
                .bits
                .get(i / 64)
                .is_some_and(|w| (w >> (i % 64)) & 1 == 1),
            None => self.other.contains(&date),
        }
    }
}

impl Calendar {
    /// A calendar in `tz` with no opening hours yet.
    pub fn new(id: &str, tz: Tz) -> Calendar {
        Calendar {
            id: id.to_string(),
            tz,
            always_open: false,
            week: Default::default(),
            closed_dates: DateSet::default(),
            closed_annually: Vec::new(),
            open_dates: DateSet::default(),
        }
    }

    /// A calendar that is open around the clock, every day.
    pub fn always_open(id: &str, tz: Tz) -> Calendar {
        Calendar {
            always_open: true,
            ..Calendar::new(id, tz)
        }
    }

    /// Sets the opening intervals of one weekday, replacing what it had. Intervals must be
    /// `start < end` on one day (use `24:00` as the end of a day); they are sorted and merged.
    pub fn with_hours(mut self, day: Weekday, intervals: &[(NaiveTime, NaiveTime)]) -> Calendar {
        let mut spans: Vec<(Minute, Minute)> = intervals
            .iter()
            .map(|(a, b)| {
                (
                    minute_of(*a),
                    if *b == NaiveTime::MIN {
                        1440
                    } else {
                        minute_of(*b)
                    },
                )
            })
            .filter(|(a, b)| a < b)
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(Minute, Minute)> = Vec::with_capacity(spans.len());
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.week[day.num_days_from_monday() as usize] = merged;
        self
    }

    /// Same hours Monday to Friday.
    pub fn with_weekday_hours(mut self, open: NaiveTime, close: NaiveTime) -> Calendar {
        for day in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ] {
            self = self.with_hours(day, &[(open, close)]);
        }
        self
    }

    /// Closes on every Japanese national holiday of [`JP_HOLIDAY_YEARS`].
    pub fn with_japanese_holidays(mut self) -> Calendar {
        for year in JP_HOLIDAY_YEARS {
            for h in japanese_holidays(year) {
                self.closed_dates.insert(h.date);
            }
        }
        self
    }

    /// Closes on these dates.
    pub fn with_closed_dates(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        dates.into_iter().for_each(|d| self.closed_dates.insert(d));
        self
    }

    /// Closes on this month and day every year (e.g. 12, 31).
    pub fn with_closed_annually(mut self, month: u32, day: u32) -> Calendar {
        self.closed_annually.push((month, day));
        self
    }

    /// Opens on these dates (their weekday's hours) even if a holiday or closed date says
    /// otherwise: a company working day that falls on a national holiday.
    pub fn with_open_dates(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        dates.into_iter().for_each(|d| self.open_dates.insert(d));
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    pub fn is_always_open(&self) -> bool {
        self.always_open
    }

    /// Whether the calendar has any opening hours at all.
    pub fn has_hours(&self) -> bool {
        self.always_open || self.week.iter().any(|d| !d.is_empty())
    }

    /// Whether `date` (local) is closed all day by a holiday or closed date.
    pub fn is_closed_day(&self, date: NaiveDate) -> bool {
        if self.always_open || self.open_dates.contains(date) {
            return false;
        }
        self.closed_dates.contains(date)
            || self
                .closed_annually
                .iter()
                .any(|&(m, d)| date.month() == m && date.day() == d)
    }

    /// Whether the team is at work at `at`.
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        if self.always_open {
            return true;
        }
        let local = at.with_timezone(&self.tz).date_naive();
        // The previous day too: its interval may end after midnight UTC-wise on DST days.
        [local - Duration::days(1), local]
            .into_iter()
            .flat_map(|d| self.intervals(d))
            .any(|(a, b)| a <= at && at < b)
    }

    /// `start` plus `business` time counted only while open. `None` when the calendar has
    /// no open time within about three years.
    pub fn add_business_time(
        &self,
        start: DateTime<Utc>,
        business: Duration,
    ) -> Option<DateTime<Utc>> {
        if self.always_open {
            return start.checked_add_signed(business);
        }
        let mut left = business.max(Duration::zero());
        let mut date = start.with_timezone(&self.tz).date_naive() - Duration::days(1);
        for _ in 0..MAX_DAYS_SEARCHED {
            for (open, close) in self.intervals(date) {
                let from = open.max(start);
                if from >= close {
                    continue;
                }
                let available = close - from;
                if left <= available {
                    return Some(from + left);
                }
                left -= available;
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The open intervals of a local date as UTC instants, in order.
    fn intervals(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let spans: &[(Minute, Minute)] = if self.is_closed_day(date) {
            &[]
        } else {
            &self.week[date.weekday().num_days_from_monday() as usize]
        };
        spans.iter().filter_map(move |&(a, b)| {
            let open = self.instant(date, a, false)?;
            let close = self.instant(date, b, true)?;
            (open < close).then_some((open, close))
        })
    }

    /// The instant the local wall clock shows `minute` on `date`. A time that occurs
    /// twice is the first occurrence for an opening and the second for a closing, so a
    /// team's day is as long as its wall clock says.
    fn instant(&self, date: NaiveDate, minute: Minute, closing: bool) -> Option<DateTime<Utc>> {
        let (date, minute) = if minute >= 1440 {
            (date.succ_opt()?, 0)
        } else {
            (date, minute)
        };
        let naive = date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, second) => Some(
                if closing {
                    first.max(second)
                } else {
                    first.min(second)
                }
                .with_timezone(&Utc),
            ),
            LocalResult::None => {
                // Skipped by a spring-forward gap: shift forward by the gap's length (02:30
                // becomes 03:30), as RFC 5545 and java.time do, by reading the wall time with
                // the offset in force before the gap (offsets never change twice in 12 hours).
                let before = self
                    .tz
                    .offset_from_utc_datetime(&(naive - Duration::hours(12)))
                    .fix();
                let utc = naive - Duration::seconds(i64::from(before.local_minus_utc()));
                Some(Utc.from_utc_datetime(&utc))
            }
        }
    }
}

fn minute_of(t: NaiveTime) -> Minute {
    use chrono::Timelike;
    // At most 23 * 60 + 59: fits.
    (t.hour() * 60 + t.minute()) as Minute
}
