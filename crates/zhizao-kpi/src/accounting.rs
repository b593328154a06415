//! From what a work unit did to ISO 22400-2 time elements.
//!
//! The period is one stretch of planned operation time (a shift, or the
//! elapsed part of the running one). Calendar planned stops (breaks,
//! planned maintenance windows) inside it are planned downtime whatever the
//! machine did then; the rest is split by the machine's state intervals.
//! Time no interval covers is "no data" and counts as a delay (ADET), so a
//! silent machine lowers availability instead of vanishing from it. Every
//! element is built from disjoint parts, so the sums hold exactly:
//! POT = PBT + planned downtime, PBT = AUBT + ADOT, AUBT = AUPT + ADET,
//! AUPT = APT + ASUT.

use serde::{Deserialize, Serialize};

use crate::TimeElements;

/// What a machine state counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateClass {
    /// Producing: APT.
    Running,
    /// Setup or changeover: ASUT.
    Setup,
    /// Available, no order running: ADOT.
    Idle,
    /// A declared planned stop (planned maintenance, a meeting): planned
    /// downtime, like a calendar break.
    PlannedStop,
    /// An unplanned interruption: ADET.
    Delay(Loss),
}

/// Kinds of unplanned interruption, all ADET, kept apart for Pareto charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// A failure: counts as a failure event for MTBF and MTTR.
    Breakdown,
    MinorStop,
    Blocked,
    Starved,
    /// No data from the machine.
    NoData,
}

/// A state held over `[start, end)`, in the caller's time unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub start: i64,
    pub end: i64,
    pub class: StateClass,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("interval {index} ends ({end}) before it starts ({start})")]
    Reversed { index: usize, start: i64, end: i64 },
    #[error(
        "interval {index} starts at {start}, before interval {previous} ends at {previous_end}: states overlap or are out of order"
    )]
    Overlap {
        index: usize,
        start: i64,
        previous: usize,
        previous_end: i64,
    },
    #[error("the period ends ({end}) before it starts ({start})")]
    Period { start: i64, end: i64 },
}

/// The time elements of a period, with the losses and failures behind them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accounted {
    pub time: TimeElements,
    /// ADET by kind.
    pub breakdown: f64,
    pub minor_stop: f64,
    pub blocked: f64,
    pub starved: f64,
    pub no_data: f64,
    /// Breakdowns that began in the period (FE).
    pub failures: u32,
    /// Each of those breakdowns' length inside the period (TTR).
    pub restoration_times: Vec<f64>,
    /// Operating time (setup + production) before the first failure,
    /// between failures, and after the last: FE + 1 intervals (TBF).
    pub operating_intervals: Vec<f64>,
}

/// Accounts a period `[pot.0, pot.1)`. `intervals` must be sorted by start
/// and must not overlap; parts outside the period are ignored.
/// `planned_stops` may overlap each other and stick out of the period.
pub fn account(
    pot: (i64, i64),
    planned_stops: &[(i64, i64)],
    intervals: &[Interval],
) -> Result<Accounted, AccountError> {
    let (p0, p1) = pot;
    if p1 < p0 {
        return Err(AccountError::Period { start: p0, end: p1 });
    }
    for (i, iv) in intervals.iter().enumerate() {
        if iv.end < iv.start {
            return Err(AccountError::Reversed {
                index: i,
                start: iv.start,
                end: iv.end,
            });
        }
        if i > 0 && iv.start < intervals[i - 1].end {
            return Err(AccountError::Overlap {
                index: i,
                start: iv.start,
                previous: i - 1,
                previous_end: intervals[i - 1].end,
            });
        }
    }
    let stops = merge_stops(planned_stops, p0, p1);
    let planned: i64 = stops.iter().map(|(a, b)| b - a).sum();

    let mut out = Accounted::default();
    let (mut apt, mut asut, mut adot, mut covered) = (0i64, 0i64, 0i64, 0i64);
    let mut adet = [0i64; 5];
    let mut operating_since_failure = 0i64;
    for iv in intervals {
        let (a, b) = (iv.start.max(p0), iv.end.min(p1));
        if b <= a {
            continue;
        }
        // The part of [a, b) outside planned stops.
        let inside_stops: i64 = stops
            .iter()
            .map(|&(s, e)| (e.min(b) - s.max(a)).max(0))
            .sum();
        let net = (b - a) - inside_stops;
        covered += net;
        match iv.class {
            StateClass::Running => {
                apt += net;
                operating_since_failure += net;
            }
            StateClass::Setup => {
                asut += net;
                operating_since_failure += net;
            }
            StateClass::Idle => adot += net,
            // A declared planned stop outside the calendar's: planned too.
            StateClass::PlannedStop => {}
            StateClass::Delay(loss) => {
                adet[loss as usize] += net;
                if loss == Loss::Breakdown && iv.start >= p0 {
                    out.failures += 1;
                    out.restoration_times.push(net as f64);
                    out.operating_intervals.push(operating_since_failure as f64);
                    operating_since_failure = 0;
                }
            }
        }
    }
    out.operating_intervals.push(operating_since_failure as f64);
    let declared_planned: i64 = intervals
        .iter()
        .filter(|iv| iv.class == StateClass::PlannedStop)
        .map(|iv| {
            let (a, b) = (iv.start.max(p0), iv.end.min(p1));
            if b <= a {
                return 0;
            }
            let inside: i64 = stops
                .iter()
                .map(|&(s, e)| (e.min(b) - s.max(a)).max(0))
                .sum();
            (b - a) - inside
        })
        .sum();
    // What no interval covers, outside planned stops, is no data.
    let uncovered = (p1 - p0) - planned - covered;
    adet[Loss::NoData as usize] += uncovered;
    let delay: i64 = adet.iter().sum();
    out.time = TimeElements::from_parts(
        (p1 - p0) as f64,
        (planned + declared_planned) as f64,
        adot as f64,
        delay as f64,
        asut as f64,
        apt as f64,
    );
    out.breakdown = adet[Loss::Breakdown as usize] as f64;
    out.minor_stop = adet[Loss::MinorStop as usize] as f64;
    out.blocked = adet[Loss::Blocked as usize] as f64;
    out.starved = adet[Loss::Starved as usize] as f64;
    out.no_data = adet[Loss::NoData as usize] as f64;
    Ok(out)
}

/// Planned stops clipped to the period, sorted and merged.
fn merge_stops(stops: &[(i64, i64)], p0: i64, p1: i64) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = stops
        .iter()
        .map(|&(a, b)| (a.max(p0), b.min(p1)))
        .filter(|(a, b)| b > a)
        .collect();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iv(start: i64, end: i64, class: StateClass) -> Interval {
        Interval { start, end, class }
    }

    #[test]
    fn the_reference_breakdown_shift_from_its_states() {
        // kpi_shift_with_breakdown as a state sequence in minutes: breaks
        // 40, idle 20, setup 25, breakdown 45, minor stops 10, running 340.
        use StateClass::*;
        let states = [
            iv(0, 25, Setup),
            iv(25, 225, Running),
            iv(225, 270, Delay(Loss::Breakdown)),
            iv(270, 405, Running),
            iv(405, 415, Delay(Loss::MinorStop)),
            iv(415, 420, Running),
            iv(420, 440, Idle),
            iv(440, 480, Running), // inside the break: planned, not APT
        ];
        let a = account((0, 480), &[(440, 480)], &states).unwrap();
        let t = a.time;
        assert_eq!((t.pot, t.planned_downtime, t.pbt), (480.0, 40.0, 440.0));
        assert_eq!((t.adot, t.adet, t.aubt), (20.0, 55.0, 420.0));
        assert_eq!((t.aupt, t.asut, t.apt), (365.0, 25.0, 340.0));
        assert_eq!(a.failures, 1);
        assert_eq!(a.restoration_times, vec![45.0]);
        assert_eq!(a.operating_intervals, vec![225.0, 140.0]);
        assert_eq!((a.breakdown, a.minor_stop, a.no_data), (45.0, 10.0, 0.0));
    }

    #[test]
    fn gaps_are_no_data_and_bad_sequences_are_named() {
        use StateClass::*;
        let a = account((0, 100), &[], &[iv(10, 50, Running)]).unwrap();
        assert_eq!((a.no_data, a.time.adet, a.time.apt), (60.0, 60.0, 40.0));
        let e = account((0, 100), &[], &[iv(10, 50, Running), iv(40, 60, Idle)]).unwrap_err();
        assert!(matches!(e, AccountError::Overlap { index: 1, .. }), "{e}");
        let e = account((0, 100), &[], &[iv(50, 10, Running)]).unwrap_err();
        assert!(matches!(e, AccountError::Reversed { index: 0, .. }), "{e}");
        assert!(account((10, 0), &[], &[]).is_err());
    }

    fn class() -> impl Strategy<Value = StateClass> {
        use StateClass::*;
        prop_oneof![
            Just(Running),
            Just(Setup),
            Just(Idle),
            Just(PlannedStop),
            Just(Delay(Loss::Breakdown)),
            Just(Delay(Loss::MinorStop)),
            Just(Delay(Loss::Blocked)),
            Just(Delay(Loss::Starved)),
            Just(Delay(Loss::NoData)),
        ]
    }

    /// Random state sequences with gaps, cut into random consecutive
    /// periods (shifts, days): the elements add up in each period, and the
    /// periods add up to the whole.
    fn sequence() -> impl Strategy<Value = (Vec<Interval>, Vec<(i64, i64)>, Vec<i64>)> {
        (
            proptest::collection::vec((0i64..50, 1i64..400, class()), 0..40),
            proptest::collection::vec((0i64..5000, 1i64..200), 0..6),
            proptest::collection::vec(1i64..2000, 1..6),
        )
            .prop_map(|(steps, stops, cuts)| {
                let mut t = -100;
                let intervals = steps
                    .into_iter()
                    .map(|(gap, len, class)| {
                        let start = t + gap;
                        t = start + len;
                        Interval {
                            start,
                            end: t,
                            class,
                        }
                    })
                    .collect();
                let stops = stops.into_iter().map(|(s, l)| (s, s + l)).collect();
                let mut bounds = vec![0];
                for c in cuts {
                    let last = *bounds.last().unwrap_or(&0);
                    bounds.push(last + c);
                }
                (intervals, stops, bounds)
            })
    }

    proptest! {
        #[test]
        fn elements_add_up_in_every_period_and_over_all((intervals, stops, bounds) in sequence()) {
            let mut total = TimeElements::default();
            for w in bounds.windows(2) {
                let a = account((w[0], w[1]), &stops, &intervals).unwrap();
                let t = a.time;
                let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
                prop_assert!(close(t.pot, t.pbt + t.planned_downtime));
                prop_assert!(close(t.pbt, t.aubt + t.adot));
                prop_assert!(close(t.aubt, t.aupt + t.adet));
                prop_assert!(close(t.aupt, t.apt + t.asut));
                prop_assert!(close(t.adet, a.breakdown + a.minor_stop + a.blocked + a.starved + a.no_data));
                for x in [t.planned_downtime, t.pbt, t.adot, t.adet, t.asut, t.apt, a.no_data] {
                    prop_assert!(x >= 0.0, "negative element in {t:?}");
                }
                prop_assert_eq!(a.operating_intervals.len() as u32, a.failures + 1);
                prop_assert!(close(a.operating_intervals.iter().sum::<f64>(), t.aupt));
                total = total.add(&t);
            }
            let whole = account((bounds[0], *bounds.last().unwrap_or(&0)), &stops, &intervals).unwrap();
            let close = |x: f64, y: f64| (x - y).abs() < 1e-6;
            prop_assert!(close(total.pot, whole.time.pot));
            prop_assert!(close(total.apt, whole.time.apt));
            prop_assert!(close(total.planned_downtime, whole.time.planned_downtime));
            prop_assert!(close(total.adet, whole.time.adet));
        }
    }
}
