//! Shifts and working calendars as types.
//!
//! Times of day are minutes after local midnight in the site's time zone; a
//! shift may run past midnight (a night shift 22:00–06:00). Issue-level KPI
//! work builds on these; here they carry the plant's shift pattern.

use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

pub const MINUTES_PER_DAY: u32 = 24 * 60;

/// One shift of a pattern, e.g. 早班 06:00 for 480 minutes with a 30-minute break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub code: String,
    pub name: String,
    /// Start, minutes after local midnight (0..1440).
    pub start_minute: u32,
    pub duration_minutes: u32,
    /// Breaks inside the shift as (offset from shift start, length) in minutes.
    #[serde(default)]
    pub breaks: Vec<(u32, u32)>,
}

impl Shift {
    /// Minutes of planned working time: duration less breaks.
    pub fn planned_minutes(&self) -> u32 {
        let breaks: u32 = self.breaks.iter().map(|(_, len)| len).sum();
        self.duration_minutes.saturating_sub(breaks)
    }

    /// Whether local minute-of-day `m` falls inside this shift (wrapping midnight).
    pub fn contains_minute(&self, m: u32) -> bool {
        let offset = (m + MINUTES_PER_DAY - self.start_minute) % MINUTES_PER_DAY;
        offset < self.duration_minutes
    }
}

/// The shifts that repeat every working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftPattern {
    pub code: String,
    pub shifts: Vec<Shift>,
}

impl ShiftPattern {
    /// Three 8-hour shifts starting at 06:00, 14:00 and 22:00, each with a
    /// 30-minute meal break in the middle — the steel workshop's pattern.
    pub fn three_eight() -> Self {
        let mk = |code: &str, name: &str, start: u32| Shift {
            code: code.into(),
            name: name.into(),
            start_minute: start,
            duration_minutes: 480,
            breaks: vec![(225, 30)],
        };
        Self {
            code: "3x8".into(),
            shifts: vec![
                mk("A", "早班", 6 * 60),
                mk("B", "中班", 14 * 60),
                mk("C", "夜班", 22 * 60),
            ],
        }
    }

    /// Rejects shifts that overlap, start outside the day, are empty or
    /// longer than a day, or whose breaks fall outside the shift.
    pub fn validate(&self) -> Result<(), FieldError> {
        let mut covered = vec![None::<usize>; MINUTES_PER_DAY as usize];
        for (i, s) in self.shifts.iter().enumerate() {
            let field = |f: &str| format!("shifts[{i}].{f}");
            if s.start_minute >= MINUTES_PER_DAY {
                return Err(FieldError::new(field("start_minute"), "must be below 1440"));
            }
            if s.duration_minutes == 0 || s.duration_minutes > MINUTES_PER_DAY {
                return Err(FieldError::new(
                    field("duration_minutes"),
                    "must be between 1 and 1440",
                ));
            }
            for (b, (off, len)) in s.breaks.iter().enumerate() {
                if off + len > s.duration_minutes {
                    return Err(FieldError::new(
                        format!("shifts[{i}].breaks[{b}]"),
                        "break ends after the shift",
                    ));
                }
            }
            for k in 0..s.duration_minutes {
                let m = ((s.start_minute + k) % MINUTES_PER_DAY) as usize;
                if let Some(other) = covered[m] {
                    return Err(FieldError::new(
                        field("start_minute"),
                        format!("overlaps shift {}", self.shifts[other].code),
                    ));
                }
                covered[m] = Some(i);
            }
        }
        Ok(())
    }

    /// The shift running at local minute-of-day `m`, if any.
    pub fn shift_at(&self, m: u32) -> Option<&Shift> {
        self.shifts.iter().find(|s| s.contains_minute(m))
    }
}

/// A site's working calendar: its shift pattern, the weekdays it works,
/// dates off and extra working days (China's make-up working days), as
/// ISO dates `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub code: String,
    pub pattern: ShiftPattern,
    /// ISO weekdays worked, 1 = Monday … 7 = Sunday; Monday to Friday when
    /// not given.
    #[serde(default = "monday_to_friday")]
    pub working_weekdays: Vec<u8>,
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub extra_working_days: Vec<String>,
}

fn monday_to_friday() -> Vec<u8> {
    vec![1, 2, 3, 4, 5]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_eight_covers_the_day_without_overlap() {
        let p = ShiftPattern::three_eight();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.shift_at(6 * 60).map(|s| s.code.as_str()), Some("A"));
        assert_eq!(p.shift_at(23 * 60).map(|s| s.code.as_str()), Some("C"));
        assert_eq!(p.shift_at(60).map(|s| s.code.as_str()), Some("C"));
        assert_eq!(p.shifts[0].planned_minutes(), 450);
    }

    #[test]
    fn overlapping_shifts_are_rejected() {
        let mut p = ShiftPattern::three_eight();
        p.shifts[1].start_minute = 13 * 60;
        let err = p.validate().unwrap_err();
        assert_eq!(err.field, "shifts[1].start_minute");
        assert!(err.message.contains("overlaps shift A"), "{err}");
    }
}
