//! A site's calendar laid over real time: which shifts are planned between
//! two instants, with their breaks, in the site's time zone. Shift and
//! break times are local clock times, so a night shift across a
//! daylight-saving change is an hour shorter or longer in real time, as
//! the people on it live it. A shift belongs to the date it starts on;
//! that date decides whether it is worked (weekday, holiday, make-up day).

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::Serialize;
use zhizao_core::Calendar;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("time zone `{0}` is not known (use an IANA name such as Asia/Shanghai)")]
    TimeZone(String),
    #[error("{field}: `{value}` is not a date YYYY-MM-DD")]
    Date { field: String, value: String },
    #[error("working_weekdays: {0} is not 1 (Monday) to 7 (Sunday)")]
    Weekday(u8),
    #[error("{field}: {message}")]
    Pattern { field: String, message: String },
    #[error("{0} is outside the supported range of times")]
    Range(i64),
}

/// One planned shift in real time (epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedShift {
    /// Local date the shift starts on, `YYYY-MM-DD`.
    pub date: String,
    pub shift: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Breaks as `[start, end)`, epoch ms.
    pub breaks: Vec<(i64, i64)>,
}

/// A calendar with its dates parsed and its time zone resolved.
#[derive(Debug, Clone)]
pub struct SiteCalendar {
    calendar: Calendar,
    tz: TimeZone,
    weekdays: [bool; 7],
    holidays: BTreeSet<Date>,
    extra: BTreeSet<Date>,
}

fn dates(list: &[String], field: &str) -> Result<BTreeSet<Date>, CalendarError> {
    list.iter()
        .enumerate()
        .map(|(i, d)| {
            d.parse::<Date>().map_err(|_| CalendarError::Date {
                field: format!("{field}[{i}]"),
                value: d.clone(),
            })
        })
        .collect()
}

impl SiteCalendar {
    pub fn new(calendar: Calendar, time_zone: &str) -> Result<SiteCalendar, CalendarError> {
        calendar
            .pattern
            .validate()
            .map_err(|e| CalendarError::Pattern {
                field: format!("pattern.{}", e.field),
                message: e.message,
            })?;
        let tz = TimeZone::get(time_zone).map_err(|_| CalendarError::TimeZone(time_zone.into()))?;
        let mut weekdays = [false; 7];
        for &d in &calendar.working_weekdays {
            if !(1..=7).contains(&d) {
                return Err(CalendarError::Weekday(d));
            }
            weekdays[usize::from(d - 1)] = true;
        }
        Ok(SiteCalendar {
            holidays: dates(&calendar.holidays, "holidays")?,
            extra: dates(&calendar.extra_working_days, "extra_working_days")?,
            calendar,
            tz,
            weekdays,
        })
    }

    /// Whether shifts starting on `date` are worked.
    pub fn is_working_day(&self, date: Date) -> bool {
        if self.extra.contains(&date) {
            return true;
        }
        let weekday = date.weekday().to_monday_one_offset();
        self.weekdays[usize::try_from(weekday - 1).unwrap_or(0)] && !self.holidays.contains(&date)
    }

    fn instant(&self, local: DateTime) -> Result<i64, CalendarError> {
        // A clock time skipped or repeated by a daylight-saving change is
        // taken as the clocks' "compatible" reading (later for a gap,
        // earlier for a fold).
        local
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|_| CalendarError::Range(0))
    }

    fn local_date(&self, ms: i64) -> Result<Date, CalendarError> {
        Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(self.tz.clone()).date())
            .map_err(|_| CalendarError::Range(ms))
    }

    /// Planned shifts that overlap `[from_ms, to_ms)`, in time order (not
    /// clipped to it).
    pub fn shifts_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<PlannedShift>, CalendarError> {
        let mut out = Vec::new();
        if to_ms <= from_ms {
            return Ok(out);
        }
        // A shift may start the day before and run past midnight.
        let mut day = self
            .local_date(from_ms)?
            .yesterday()
            .map_err(|_| CalendarError::Range(from_ms))?;
        let last = self.local_date(to_ms)?;
        let at = |d: Date, minutes: i64| -> Result<DateTime, CalendarError> {
            d.to_datetime(jiff::civil::Time::midnight())
                .checked_add(Span::new().minutes(minutes))
                .map_err(|_| CalendarError::Range(from_ms))
        };
        while day <= last {
            if self.is_working_day(day) {
                for s in &self.calendar.pattern.shifts {
                    let start = i64::from(s.start_minute);
                    let start_ms = self.instant(at(day, start)?)?;
                    let end_ms = self.instant(at(day, start + i64::from(s.duration_minutes))?)?;
                    if end_ms <= from_ms || start_ms >= to_ms {
                        continue;
                    }
                    let breaks = s
                        .breaks
                        .iter()
                        .map(|&(off, len)| {
                            let b = start + i64::from(off);
                            Ok((
                                self.instant(at(day, b)?)?,
                                self.instant(at(day, b + i64::from(len))?)?,
                            ))
                        })
                        .collect::<Result<Vec<_>, CalendarError>>()?;
                    out.push(PlannedShift {
                        date: day.to_string(),
                        shift: s.code.clone(),
                        start_ms,
                        end_ms,
                        breaks,
                    });
                }
            }
            day = day.tomorrow().map_err(|_| CalendarError::Range(to_ms))?;
        }
        out.sort_by_key(|s| s.start_ms);
        Ok(out)
    }
}

/// The periods shifts roll up into. A shift belongs to the day (week,
/// month) of the local date it starts on, so a night shift that ends after
/// midnight counts whole for the day it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollup {
    Shift,
    Day,
    /// ISO 8601 weeks, Monday to Sunday.
    Week,
    Month,
}

impl std::str::FromStr for Rollup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shift" => Ok(Rollup::Shift),
            "day" => Ok(Rollup::Day),
            "week" => Ok(Rollup::Week),
            "month" => Ok(Rollup::Month),
            _ => Err(format!("`{s}` is not one of shift, day, week, month")),
        }
    }
}

impl PlannedShift {
    /// The period this shift rolls up into: `2026-11-30 A`, `2026-11-30`,
    /// `2026-W49`, `2026-11`. Keys sort in time order.
    pub fn rollup_key(&self, rollup: Rollup) -> Result<String, CalendarError> {
        let date: Date = self.date.parse().map_err(|_| CalendarError::Date {
            field: "date".into(),
            value: self.date.clone(),
        })?;
        Ok(match rollup {
            Rollup::Shift => format!("{} {}", self.date, self.shift),
            Rollup::Day => self.date.clone(),
            Rollup::Week => {
                let w = date.iso_week_date();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Rollup::Month => format!("{:04}-{:02}", date.year(), date.month()),
        })
    }
}

/// Time elements per planned shift: each shift is accounted from the
/// machine's state intervals (sorted, not overlapping), with its breaks and
/// any planned maintenance windows (`[start, end)`, epoch ms) as planned
/// stops.
pub fn account_shifts(
    shifts: &[PlannedShift],
    maintenance: &[(i64, i64)],
    intervals: &[crate::Interval],
) -> Result<Vec<crate::accounting::Accounted>, crate::accounting::AccountError> {
    shifts
        .iter()
        .map(|s| {
            let mut stops = s.breaks.clone();
            stops.extend_from_slice(maintenance);
            // Sorted, disjoint intervals: only those touching the shift.
            let first = intervals.partition_point(|iv| iv.end <= s.start_ms);
            let last = intervals.partition_point(|iv| iv.start < s.end_ms);
            let touching = intervals.get(first..last.max(first)).unwrap_or(&[]);
            crate::account((s.start_ms, s.end_ms), &stops, touching)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhizao_core::ShiftPattern;

    #[test]
    fn shifts_roll_up_by_the_local_date_they_start_on() {
        let shift = |date: &str| PlannedShift {
            date: date.into(),
            shift: "C".into(),
            start_ms: 0,
            end_ms: 1,
            breaks: Vec::new(),
        };
        let key = |date, r| shift(date).rollup_key(r).unwrap_or_default();
        assert_eq!(key("2026-11-30", Rollup::Shift), "2026-11-30 C");
        assert_eq!(key("2026-11-30", Rollup::Day), "2026-11-30");
        assert_eq!(key("2026-11-30", Rollup::Month), "2026-11");
        // ISO weeks: 2026-11-30 is a Monday of week 49; 2027-01-01 (a
        // Friday) still belongs to 2026's week 53.
        assert_eq!(key("2026-11-30", Rollup::Week), "2026-W49");
        assert_eq!(key("2026-11-29", Rollup::Week), "2026-W48");
        assert_eq!(key("2027-01-01", Rollup::Week), "2026-W53");
        assert!(shift("30.11.2026").rollup_key(Rollup::Day).is_err());
        assert_eq!("week".parse::<Rollup>(), Ok(Rollup::Week));
        assert!("year".parse::<Rollup>().is_err());
    }

    fn ms(s: &str, tz: &str) -> i64 {
        s.parse::<DateTime>()
            .unwrap()
            .to_zoned(TimeZone::get(tz).unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn calendar(weekdays: Vec<u8>, holidays: &[&str], extra: &[&str]) -> Calendar {
        Calendar {
            code: "c".into(),
            pattern: ShiftPattern::three_eight(),
            working_weekdays: weekdays,
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
            extra_working_days: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn three_shifts_a_day_with_holidays_and_make_up_days() {
        // National Day week: 1–7 October off, Saturday 10 October worked.
        let holidays = [
            "2026-10-01",
            "2026-10-02",
            "2026-10-05",
            "2026-10-06",
            "2026-10-07",
        ];
        let cal = SiteCalendar::new(
            calendar(vec![1, 2, 3, 4, 5], &holidays, &["2026-10-10"]),
            "Asia/Shanghai",
        )
        .unwrap();
        let tz = "Asia/Shanghai";
        let shifts = cal
            .shifts_between(ms("2026-09-30T00:00", tz), ms("2026-10-12T00:00", tz))
            .unwrap();
        let days: BTreeSet<&str> = shifts.iter().map(|s| s.date.as_str()).collect();
        // 29 Sep's night shift runs into 30 Sep; 30 Sep; 8, 9 (Thu, Fri),
        // 10 (make-up Saturday). 3, 4 and 11 are weekend days.
        assert_eq!(
            days.into_iter().collect::<Vec<_>>(),
            [
                "2026-09-29",
                "2026-09-30",
                "2026-10-08",
                "2026-10-09",
                "2026-10-10"
            ]
        );
        let a = &shifts[1];
        assert_eq!((a.date.as_str(), a.shift.as_str()), ("2026-09-30", "A"));
        assert_eq!(a.start_ms, ms("2026-09-30T06:00", tz));
        assert_eq!(a.end_ms - a.start_ms, 8 * 3_600_000);
        assert_eq!(
            a.breaks,
            vec![(ms("2026-09-30T09:45", tz), ms("2026-09-30T10:15", tz))]
        );
    }

    #[test]
    fn a_night_shift_across_a_clock_change_keeps_its_local_times() {
        // Berlin's clocks go forward at 02:00 on 29 March 2026: the night
        // shift 22:00–06:00 is seven real hours.
        let tz = "Europe/Berlin";
        let cal = SiteCalendar::new(calendar(vec![1, 2, 3, 4, 5, 6, 7], &[], &[]), tz).unwrap();
        let shifts = cal
            .shifts_between(ms("2026-03-28T21:00", tz), ms("2026-03-29T07:00", tz))
            .unwrap();
        let night: Vec<&PlannedShift> = shifts.iter().filter(|s| s.shift == "C").collect();
        assert_eq!(night.len(), 1);
        assert_eq!(night[0].end_ms - night[0].start_ms, 7 * 3_600_000);
    }

    #[test]
    fn bad_calendars_are_named() {
        let e = SiteCalendar::new(calendar(vec![1], &["2026-13-01"], &[]), "Asia/Shanghai")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "holidays[0]: `2026-13-01` is not a date YYYY-MM-DD"
        );
        let e = SiteCalendar::new(calendar(vec![8], &[], &[]), "Asia/Shanghai").unwrap_err();
        assert_eq!(e, CalendarError::Weekday(8));
        let e = SiteCalendar::new(calendar(vec![1], &[], &[]), "Mars/Olympus").unwrap_err();
        assert!(matches!(e, CalendarError::TimeZone(_)));
        let mut c = calendar(vec![1], &[], &[]);
        c.pattern.shifts[1].start_minute = 13 * 60;
        let e = SiteCalendar::new(c, "Asia/Shanghai").unwrap_err();
        assert!(
            e.to_string().starts_with("pattern.shifts[1].start_minute"),
            "{e}"
        );
    }

    mod across_days_and_clock_changes {
        use super::*;
        use crate::{Interval, Loss, StateClass};
        use proptest::prelude::*;

        fn class() -> impl Strategy<Value = StateClass> {
            prop_oneof![
                Just(StateClass::Running),
                Just(StateClass::Setup),
                Just(StateClass::Idle),
                Just(StateClass::Delay(Loss::Breakdown)),
                Just(StateClass::Delay(Loss::MinorStop)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            /// Random state sequences over four days around a clock change
            /// (or none), cut by a three-shift calendar: each shift's
            /// elements add up, its POT is its real length, and its planned
            /// downtime covers its breaks.
            #[test]
            fn shifts_add_up(
                tz in prop_oneof![Just("Europe/Berlin"), Just("Asia/Shanghai"), Just("America/New_York")],
                start_day in prop_oneof![Just("2026-03-27"), Just("2026-10-23"), Just("2026-11-01")],
                steps in proptest::collection::vec((0i64..600_000, 1i64..14_400_000, class()), 1..80),
            ) {
                let cal = SiteCalendar::new(
                    Calendar {
                        code: "c".into(),
                        pattern: ShiftPattern::three_eight(),
                        working_weekdays: vec![1, 2, 3, 4, 5, 6, 7],
                        holidays: vec![],
                        extra_working_days: vec![],
                    },
                    tz,
                ).unwrap();
                let from = ms(&format!("{start_day}T00:00"), tz);
                let to = from + 4 * 86_400_000;
                let mut t = from;
                let intervals: Vec<Interval> = steps.into_iter().map(|(gap, len, class)| {
                    let start = t + gap;
                    t = start + len;
                    Interval { start, end: t, class }
                }).collect();
                let shifts = cal.shifts_between(from, to).unwrap();
                prop_assert!(shifts.len() >= 12);
                let accounted = account_shifts(&shifts, &[], &intervals).unwrap();
                for (s, a) in shifts.iter().zip(&accounted) {
                    let e = a.time;
                    let close = |x: f64, y: f64| (x - y).abs() < 1e-6;
                    prop_assert!(close(e.pot, (s.end_ms - s.start_ms) as f64));
                    prop_assert!(close(e.pot, e.pbt + e.planned_downtime));
                    prop_assert!(close(e.pbt, e.aubt + e.adot));
                    prop_assert!(close(e.aubt, e.aupt + e.adet));
                    prop_assert!(close(e.aupt, e.apt + e.asut));
                    let breaks: i64 = s.breaks.iter().map(|(a, b)| b - a).sum();
                    prop_assert!(close(e.planned_downtime, breaks as f64));
                }
                // Consecutive shifts tile the days: no gap, no overlap.
                for w in shifts.windows(2) {
                    prop_assert_eq!(w[0].end_ms, w[1].start_ms);
                }
            }
        }
    }
}
