//! Business-time arithmetic: weekends, holidays, lunch breaks, DST, closures.

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Asia::Tokyo;
use earshot_route::Calendar;

use crate::support::{tokyo, utc};

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn office() -> Calendar {
    Calendar::new("tokyo_office", Tokyo).with_weekday_hours(hm(9, 0), hm(18, 0))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn friday_evening_p2_is_due_monday_morning() {
    // Friday 2026-11-13 17:50 + 1 business hour = Monday 09:50.
    let due = office().add_business_time(tokyo(2026, 11, 13, 17, 50), Duration::hours(1));
    assert_eq!(due, Some(tokyo(2026, 11, 16, 9, 50)));
}

#[test]
fn a_monday_holiday_moves_it_to_tuesday() {
    // Monday 2026-07-20 is 海の日.
    let cal = office().with_japanese_holidays();
    let due = cal.add_business_time(tokyo(2026, 7, 17, 17, 50), Duration::hours(1));
    assert_eq!(due, Some(tokyo(2026, 7, 21, 9, 50)));
    // Without the holidays it would be Monday.
    assert_eq!(
        office().add_business_time(tokyo(2026, 7, 17, 17, 50), Duration::hours(1)),
        Some(tokyo(2026, 7, 20, 9, 50))
    );
}

#[test]
fn silver_week_and_golden_week_span_several_days() {
    let cal = office().with_japanese_holidays();
    // 2026-09-19..23: Sat, Sun, 敬老の日, 国民の休日, 秋分の日 → Thursday.
    let due = cal.add_business_time(tokyo(2026, 9, 18, 17, 0), Duration::hours(4));
    assert_eq!(due, Some(tokyo(2026, 9, 24, 12, 0)));
    // 2026-05-02..06: Sat, 憲法記念日 (Sun), みどりの日, こどもの日, 振替休日 → Thursday 7 May.
    let due = cal.add_business_time(tokyo(2026, 5, 1, 17, 30), Duration::minutes(90));
    assert_eq!(due, Some(tokyo(2026, 5, 7, 10, 0)));
}

#[test]
fn year_end_closure_is_configurable() {
    let mut cal = office().with_japanese_holidays();
    for (m, d) in [(12, 29), (12, 30), (12, 31), (1, 2), (1, 3)] {
        cal = cal.with_closed_annually(m, d);
    }
    // Monday 2026-12-28 17:00 + 2h: one hour on the 28th, then closed until Monday 4 Jan.
    let due = cal.add_business_time(tokyo(2026, 12, 28, 17, 0), Duration::hours(2));
    assert_eq!(due, Some(tokyo(2027, 1, 4, 10, 0)));
    assert!(cal.is_closed_day(date(2027, 1, 1)));
    assert!(cal.is_closed_day(date(2030, 12, 30)));
}

#[test]
fn open_dates_override_closures() {
    let cal = office()
        .with_japanese_holidays()
        .with_open_dates([date(2026, 11, 23)]);
    let due = cal.add_business_time(tokyo(2026, 11, 20, 17, 30), Duration::hours(1));
    assert_eq!(due, Some(tokyo(2026, 11, 23, 9, 30)));
}

#[test]
fn posts_outside_hours_start_the_clock_at_opening() {
    let due = office().add_business_time(tokyo(2026, 11, 14, 3, 0), Duration::minutes(30));
    assert_eq!(due, Some(tokyo(2026, 11, 16, 9, 30)));
    let due = office().add_business_time(tokyo(2026, 11, 16, 7, 0), Duration::zero());
    assert_eq!(due, Some(tokyo(2026, 11, 16, 9, 0)));
}

#[test]
fn lunch_breaks_do_not_count() {
    let cal = Calendar::new("care", Tokyo).with_hours(
        Weekday::Sat,
        &[(hm(10, 0), hm(12, 0)), (hm(13, 0), hm(19, 0))],
    );
    let due = cal.add_business_time(tokyo(2026, 11, 14, 11, 30), Duration::hours(1));
    assert_eq!(due, Some(tokyo(2026, 11, 14, 13, 30)));
    assert!(!cal.is_open_at(tokyo(2026, 11, 14, 12, 30)));
    assert!(cal.is_open_at(tokyo(2026, 11, 14, 13, 0)));
}

#[test]
fn new_york_business_hours_follow_the_march_clock_change() {
    // DST starts Sunday 2026-03-08: Friday 17:30 EST + 1h = Monday 09:30 EDT.
    let cal = Calendar::new("nyc", New_York).with_weekday_hours(hm(9, 0), hm(18, 0));
    let start = New_York
        .with_ymd_and_hms(2026, 3, 6, 17, 30, 0)
        .unwrap()
        .with_timezone(&Utc);
    let due = cal.add_business_time(start, Duration::hours(1)).unwrap();
    assert_eq!(due, utc(2026, 3, 9, 13, 30));
    assert_eq!(
        due.with_timezone(&New_York).format("%H:%M %Z").to_string(),
        "09:30 EDT"
    );
}

#[test]
fn a_whole_day_calendar_has_23_and_25_hour_days_in_new_york() {
    let all_day = [(hm(0, 0), hm(0, 0))];
    let mut cal = Calendar::new("nyc-days", New_York);
    for d in [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ] {
        cal = cal.with_hours(d, &all_day);
    }
    // Saturday 23:00 EST + 3h of open time = Sunday 03:00 EDT (02:00 never happens).
    let start = New_York
        .with_ymd_and_hms(2026, 3, 7, 23, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        cal.add_business_time(start, Duration::hours(3)),
        Some(utc(2026, 3, 8, 7, 0))
    );
    // November 1st has 25 hours: midnight to midnight is 25h of open time.
    let start = New_York
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let end = New_York
        .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(cal.add_business_time(start, Duration::hours(25)), Some(end));
}

#[test]
fn opening_inside_a_skipped_hour_shifts_forward() {
    // 02:30 does not exist on 2026-03-08 in New York: the shift opens at 03:30 EDT.
    let cal = Calendar::new("night", New_York).with_hours(Weekday::Sun, &[(hm(2, 30), hm(4, 0))]);
    let start = utc(2026, 3, 8, 5, 0);
    let due = cal.add_business_time(start, Duration::minutes(10)).unwrap();
    assert_eq!(
        due.with_timezone(&New_York).format("%H:%M").to_string(),
        "03:40"
    );
}

#[test]
fn around_the_clock_and_never_open() {
    let always = Calendar::always_open("noc", Tokyo).with_japanese_holidays();
    assert_eq!(
        always.add_business_time(tokyo(2026, 1, 1, 0, 0), Duration::minutes(15)),
        Some(tokyo(2026, 1, 1, 0, 15))
    );
    let never = Calendar::new("never", Tokyo);
    assert!(!never.has_hours());
    assert_eq!(
        never.add_business_time(tokyo(2026, 1, 1, 0, 0), Duration::minutes(15)),
        None
    );
}
