//! From what the platform records to what [`account`](crate::account)
//! takes: a machine's state changes become state intervals, and running
//! counters become quantities.

use zhizao_core::MachineState;

use crate::{Interval, Loss, StateClass};

/// A stop shorter than this is a minor stop, not a failure (ms).
pub const MINOR_STOP_MS: i64 = 5 * 60 * 1000;

/// What a platform state counts as; a `down` of `length_ms` below
/// `minor_stop_ms` is a minor stop, otherwise a breakdown.
pub fn class_of(state: MachineState, length_ms: i64, minor_stop_ms: i64) -> StateClass {
    match state {
        MachineState::Running => StateClass::Running,
        MachineState::Idle => StateClass::Idle,
        MachineState::Setup => StateClass::Setup,
        MachineState::PlannedStop => StateClass::PlannedStop,
        MachineState::Blocked => StateClass::Delay(Loss::Blocked),
        MachineState::Starved => StateClass::Delay(Loss::Starved),
        MachineState::Down if length_ms < minor_stop_ms => StateClass::Delay(Loss::MinorStop),
        MachineState::Down => StateClass::Delay(Loss::Breakdown),
        MachineState::Offline => StateClass::Delay(Loss::NoData),
    }
}

/// State intervals over `[from, to)` from the state in force at `from`
/// (the last change before it, if any) and the changes in the period, in
/// time order. Each state lasts until the next change; a change to the
/// same state continues it. Time before the first known state is left
/// uncovered (no data).
pub fn intervals(
    at_start: Option<MachineState>,
    changes: &[(i64, MachineState)],
    from: i64,
    to: i64,
    minor_stop_ms: i64,
) -> Vec<Interval> {
    let mut runs: Vec<(i64, i64, MachineState)> = Vec::new();
    let mut current = at_start.map(|s| (from, s));
    for &(ts, state) in changes.iter().filter(|(ts, _)| *ts >= from && *ts < to) {
        match current {
            Some((_, s)) if s == state => {}
            Some((start, s)) => {
                runs.push((start, ts, s));
                current = Some((ts, state));
            }
            None => current = Some((ts, state)),
        }
    }
    if let Some((start, s)) = current {
        runs.push((start, to, s));
    }
    runs.into_iter()
        .filter(|(a, b, _)| b > a)
        .map(|(start, end, s)| Interval {
            start,
            end,
            class: class_of(s, end - start, minor_stop_ms),
        })
        .collect()
}

/// How much a running counter rose: the sum of its rises, where a fall
/// means the counter was reset and counts again from zero. `before` is the
/// last value before the period, if known.
pub fn counter_increase(before: Option<f64>, values: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut last = before;
    for &v in values {
        total += match last {
            Some(l) if v >= l => v - l,
            // A reset: the counter started again from zero.
            Some(_) => v,
            // No earlier value: the first one is the baseline.
            None => 0.0,
        };
        last = Some(v);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use MachineState::*;

    #[test]
    fn changes_become_intervals() {
        let iv = intervals(
            Some(Idle),
            &[
                (10, Running),
                (20, Running),
                (30, Down),
                (32, Running),
                (40, Down),
            ],
            0,
            100,
            5,
        );
        let got: Vec<(i64, i64, StateClass)> =
            iv.iter().map(|i| (i.start, i.end, i.class)).collect();
        assert_eq!(
            got,
            vec![
                (0, 10, StateClass::Idle),
                (10, 30, StateClass::Running),
                (30, 32, StateClass::Delay(Loss::MinorStop)),
                (32, 40, StateClass::Running),
                (40, 100, StateClass::Delay(Loss::Breakdown)),
            ]
        );
        // Nothing known before the first change: that time is uncovered.
        let iv = intervals(None, &[(50, Running)], 0, 100, 5);
        assert_eq!((iv[0].start, iv[0].end), (50, 100));
    }

    #[test]
    fn counters_count_rises_and_resets() {
        assert_eq!(counter_increase(Some(100.0), &[105.0, 110.0]), 10.0);
        assert_eq!(counter_increase(None, &[5.0, 7.0]), 2.0);
        // Reset to 0 then up to 3: 110 → 3 counts 3.
        assert_eq!(counter_increase(Some(100.0), &[110.0, 3.0]), 13.0);
        assert_eq!(counter_increase(Some(1.0), &[]), 0.0);
    }
}

/// Gives stops their explained class: each `(stop start, class)` applies
/// to the stop interval covering that instant, or to the first interval
/// when the stop began before the period. Running and setup are never
/// changed.
pub fn apply_reasons(intervals: &mut [Interval], reasons: &[(i64, StateClass)]) {
    for &(at, class) in reasons {
        let found = intervals
            .iter()
            .position(|iv| iv.start <= at && at < iv.end)
            .or_else(|| intervals.first().filter(|iv| at < iv.start).map(|_| 0));
        if let Some(i) = found
            && !matches!(intervals[i].class, StateClass::Running | StateClass::Setup)
        {
            intervals[i].class = class;
        }
    }
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    #[test]
    fn explained_stops_change_class_and_running_never_does() {
        let mut iv = intervals(
            Some(MachineState::Down),
            &[
                (10, MachineState::Running),
                (20, MachineState::Down),
                (40, MachineState::Idle),
            ],
            0,
            60,
            5,
        );
        apply_reasons(
            &mut iv,
            &[
                (-100, StateClass::PlannedStop),
                (25, StateClass::Delay(Loss::Starved)),
                (15, StateClass::PlannedStop),
            ],
        );
        let classes: Vec<StateClass> = iv.iter().map(|i| i.class).collect();
        assert_eq!(
            classes,
            vec![
                StateClass::PlannedStop,
                StateClass::Running,
                StateClass::Delay(Loss::Starved),
                StateClass::Idle,
            ]
        );
    }
}
