//! Japanese national holidays, computed, against published dates.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use earshot_route::{japanese_holidays, Holiday};
use proptest::prelude::*;

fn list(year: i32) -> Vec<(String, &'static str)> {
    japanese_holidays(year)
        .into_iter()
        .map(|h| (h.date.format("%m-%d").to_string(), h.name))
        .collect()
}

fn find(date: &str) -> Option<&'static str> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    japanese_holidays(d.year())
        .into_iter()
        .find(|h| h.date == d)
        .map(|h| h.name)
}

#[test]
fn the_2026_calendar() {
    let expected = [
        ("01-01", "元日"),
        ("01-12", "成人の日"),
        ("02-11", "建国記念の日"),
        ("02-23", "天皇誕生日"),
        ("03-20", "春分の日"),
        ("04-29", "昭和の日"),
        ("05-03", "憲法記念日"),
        ("05-04", "みどりの日"),
        ("05-05", "こどもの日"),
        ("05-06", "振替休日"),
        ("07-20", "海の日"),
        ("08-11", "山の日"),
        ("09-21", "敬老の日"),
        ("09-22", "国民の休日"),
        ("09-23", "秋分の日"),
        ("10-12", "スポーツの日"),
        ("11-03", "文化の日"),
        ("11-23", "勤労感謝の日"),
    ];
    let got = list(2026);
    let got: Vec<(&str, &str)> = got.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    assert_eq!(got, expected);
}

#[test]
fn special_years_and_rules() {
    // 2019: the accession, with 国民の休日 either side, and a 10-day Golden Week.
    assert_eq!(find("2019-04-30"), Some("国民の休日"));
    assert_eq!(find("2019-05-01"), Some("天皇の即位の日"));
    assert_eq!(find("2019-05-02"), Some("国民の休日"));
    assert_eq!(find("2019-05-06"), Some("振替休日"));
    assert_eq!(find("2019-10-22"), Some("即位礼正殿の儀の行われる日"));
    assert_eq!(find("2019-12-23"), None);
    assert_eq!(find("2018-12-23"), Some("天皇誕生日"));
    assert_eq!(list(2019).len(), 22);
    // Olympics: sports day and marine day moved to July, mountain day to August 10 / 8.
    assert_eq!(find("2020-07-23"), Some("海の日"));
    assert_eq!(find("2020-07-24"), Some("スポーツの日"));
    assert_eq!(find("2020-08-10"), Some("山の日"));
    assert_eq!(find("2020-10-12"), None);
    assert_eq!(find("2021-08-09"), Some("振替休日"));
    assert_eq!(find("2020-02-24"), Some("振替休日"));
    // 2009 silver week; 2015 too.
    assert_eq!(find("2009-09-22"), Some("国民の休日"));
    assert_eq!(find("2015-09-22"), Some("国民の休日"));
    // Since 2007 a Sunday 憲法記念日 moves past the two holidays after it.
    assert_eq!(find("2009-05-06"), Some("振替休日"));
    // Before 2007, May 4 was a 国民の休日 unless it was a Sunday.
    assert_eq!(find("2006-05-04"), Some("国民の休日"));
    assert_eq!(find("2003-05-04"), None);
    assert_eq!(find("2003-07-21"), Some("海の日"));
    assert_eq!(find("2002-07-20"), Some("海の日"));
    assert_eq!(find("2000-10-09"), Some("体育の日"));
    // Far years still follow the law as it stands.
    assert_eq!(find("2099-01-01"), Some("元日"));
    assert!(japanese_holidays(1999).is_empty());
}

fn is_statutory(h: &Holiday) -> bool {
    h.name != "振替休日" && h.name != "国民の休日"
}

proptest! {
    #[test]
    fn every_year_obeys_the_substitute_and_sandwich_rules(year in 2007i32..=2099) {
        let days = japanese_holidays(year);
        prop_assert!((15..=22).contains(&days.len()), "{} holidays in {year}", days.len());
        prop_assert!(days.windows(2).all(|w| w[0].date < w[1].date));
        let holiday = |d: NaiveDate| days.iter().find(|h| h.date == d);
        for h in &days {
            if is_statutory(h) && h.date.weekday() == Weekday::Sun {
                // The first day after the run of holidays is the substitute.
                let mut next = h.date + Duration::days(1);
                while holiday(next).is_some_and(is_statutory) {
                    next += Duration::days(1);
                }
                prop_assert_eq!(holiday(next).map(|x| x.name), Some("振替休日"), "after {}", h.date);
            }
            if h.name == "振替休日" {
                prop_assert_ne!(h.date.weekday(), Weekday::Sun);
            }
            if h.name == "国民の休日" {
                let before = holiday(h.date - Duration::days(1));
                let after = holiday(h.date + Duration::days(1));
                prop_assert!(before.is_some_and(is_statutory) && after.is_some_and(is_statutory));
            }
        }
    }
}
