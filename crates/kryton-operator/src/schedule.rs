//! Five-field cron schedules (UTC), for the snapshots the operator takes itself.
//!
//! Parsing and matching are croner's (a maintained POSIX/Vixie-cron implementation, with the jiff
//! time types kube already brings): `*`, numbers, ranges, lists, steps, names, day of week 0-7
//! (0 and 7 are Sunday), and a day matching either a restricted day of month or a restricted day of
//! week runs, as in cron. Seconds and years are refused, so a schedule means what `CronJob` means.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule(Cron);

/// Why a schedule was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid schedule {schedule:?}: {why}")]
pub struct InvalidSchedule {
    pub schedule: String,
    pub why: String,
}

impl Schedule {
    /// Parse a five-field cron expression.
    pub fn parse(s: &str) -> Result<Schedule, InvalidSchedule> {
        let bad = |why: String| InvalidSchedule {
            schedule: s.to_string(),
            why,
        };
        // croner also knows `@daily` and friends; a CronJob-style five fields is what we document.
        let fields = s.split_whitespace().count();
        if fields != 5 {
            return Err(bad(format!("expected 5 fields, found {fields}")));
        }
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(s)
            .map(Schedule)
            .map_err(|e| bad(e.to_string()))
    }

    /// The latest scheduled time at or before `now`, if any.
    pub fn latest_at_or_before(&self, now: Timestamp) -> Option<Timestamp> {
        let now = now.to_zoned(TimeZone::UTC);
        self.0.find_previous_occurrence(&now, true).ok().map(|z| z.timestamp())
    }

    /// The first scheduled time strictly after `now`, if any.
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        let now = now.to_zoned(TimeZone::UTC);
        self.0.find_next_occurrence(&now, false).ok().map(|z| z.timestamp())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn daily_at_three() {
        let s = Schedule::parse("0 3 * * *").unwrap();
        assert_eq!(
            s.latest_at_or_before(ts("2026-11-27T10:00:00Z")),
            Some(ts("2026-11-27T03:00:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(ts("2026-11-27T02:59:59Z")),
            Some(ts("2026-11-26T03:00:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(ts("2026-11-27T03:00:00Z")),
            Some(ts("2026-11-27T03:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-11-27T03:00:00Z")),
            Some(ts("2026-11-28T03:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-11-27T02:10:00Z")),
            Some(ts("2026-11-27T03:00:00Z"))
        );
    }

    #[test]
    fn steps_lists_and_ranges() {
        let s = Schedule::parse("*/15 9-17 * * 1-5").unwrap();
        // Friday 2026-11-27 17:50 -> latest 17:45; next is Monday 09:00.
        assert_eq!(
            s.latest_at_or_before(ts("2026-11-27T17:50:00Z")),
            Some(ts("2026-11-27T17:45:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-11-27T17:50:00Z")),
            Some(ts("2026-11-30T09:00:00Z"))
        );
        let s = Schedule::parse("5,35 0 1 * *").unwrap();
        assert_eq!(
            s.next_after(ts("2026-11-27T00:00:00Z")),
            Some(ts("2026-12-01T00:05:00Z"))
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_and_sunday_as_seven() {
        // The 1st, or any Sunday.
        let s = Schedule::parse("0 0 1 * 7").unwrap();
        assert_eq!(
            s.next_after(ts("2026-11-27T00:00:00Z")),
            Some(ts("2026-11-29T00:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-11-29T00:00:00Z")),
            Some(ts("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn impossible_dates_never_fire() {
        let s = Schedule::parse("0 0 31 2 *").unwrap();
        assert_eq!(s.next_after(ts("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn bad_schedules_are_refused() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
