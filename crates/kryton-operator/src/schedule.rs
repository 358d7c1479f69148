//! Five-field cron schedules (UTC), for the snapshots the operator takes itself.
//!
//! Supported per field: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`; day of
//! week 0-7 (0 and 7 are Sunday). As in cron, when both day-of-month and day-of-week are
//! restricted, a day matching either runs.

use k8s_openapi::jiff::civil::{Date, DateTime};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, ToSpan};

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// Why a schedule was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid schedule {schedule:?}: {why}")]
pub struct InvalidSchedule {
    pub schedule: String,
    pub why: String,
}

fn field(spec: &str, min: u32, max: u32, name: &str) -> Result<Vec<bool>, String> {
    let mut set = vec![false; max as usize + 1];
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("{name}: bad step {s:?}"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("{name}: step 0"));
        }
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a.parse::<u32>().map_err(|_| format!("{name}: bad value {a:?}"))?;
            let b = b.parse::<u32>().map_err(|_| format!("{name}: bad value {b:?}"))?;
            (a, b)
        } else {
            let a = range
                .parse::<u32>()
                .map_err(|_| format!("{name}: bad value {range:?}"))?;
            (a, if part.contains('/') { max } else { a })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{name}: {range:?} is outside {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok(set)
}

impl Schedule {
    /// Parse a five-field cron expression.
    pub fn parse(s: &str) -> Result<Schedule, InvalidSchedule> {
        let bad = |why: String| InvalidSchedule {
            schedule: s.to_string(),
            why,
        };
        let f: Vec<&str> = s.split_whitespace().collect();
        if f.len() != 5 {
            return Err(bad(format!("expected 5 fields, found {}", f.len())));
        }
        let mut weekdays = field(f[4], 0, 7, "day of week").map_err(bad)?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        Ok(Schedule {
            minutes: field(f[0], 0, 59, "minute").map_err(bad)?,
            hours: field(f[1], 0, 23, "hour").map_err(bad)?,
            days: field(f[2], 1, 31, "day of month").map_err(bad)?,
            months: field(f[3], 1, 12, "month").map_err(bad)?,
            weekdays,
            days_restricted: f[2] != "*",
            weekdays_restricted: f[4] != "*",
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        if !self.months[d.month() as usize] {
            return false;
        }
        let dom = self.days[d.day() as usize];
        let dow = self.weekdays[d.weekday().to_sunday_zero_offset() as usize];
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The latest scheduled time at or before `now` (within a year and a day), if any.
    pub fn latest_at_or_before(&self, now: Timestamp) -> Option<Timestamp> {
        let now = now.to_zoned(TimeZone::UTC).datetime();
        let today = now.date();
        for back in 0..=366i64 {
            let day = today.checked_sub(back.days()).ok()?;
            if !self.day_matches(day) {
                continue;
            }
            let last_hour = if back == 0 { now.hour() as usize } else { 23 };
            for h in (0..=last_hour).rev().filter(|h| self.hours[*h]) {
                let last_minute = if back == 0 && h == now.hour() as usize {
                    now.minute() as usize
                } else {
                    59
                };
                if let Some(m) = (0..=last_minute).rev().find(|m| self.minutes[*m]) {
                    return at(day, h, m);
                }
            }
        }
        None
    }

    /// The first scheduled time strictly after `now` (within a year and a day), if any.
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        let now = now.to_zoned(TimeZone::UTC).datetime();
        let today = now.date();
        for ahead in 0..=366i64 {
            let day = today.checked_add(ahead.days()).ok()?;
            if !self.day_matches(day) {
                continue;
            }
            let first_hour = if ahead == 0 { now.hour() as usize } else { 0 };
            for h in (first_hour..24).filter(|h| self.hours[*h]) {
                let first_minute = if ahead == 0 && h == now.hour() as usize {
                    now.minute() as usize + 1
                } else {
                    0
                };
                if let Some(m) = (first_minute..60).find(|m| self.minutes[*m]) {
                    return at(day, h, m);
                }
            }
        }
        None
    }
}

fn at(day: Date, h: usize, m: usize) -> Option<Timestamp> {
    let dt = DateTime::from_parts(day, k8s_openapi::jiff::civil::Time::new(h as i8, m as i8, 0, 0).ok()?);
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
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
