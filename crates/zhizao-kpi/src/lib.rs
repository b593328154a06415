//! ISO 22400-2 key performance indicators for manufacturing operations.
//!
//! Two steps, both pure: [`account`] turns a work unit's state intervals in
//! a period (with its planned stops) into the standard's time elements, and
//! [`Kpis::compute`] turns time elements and quantities into the KPIs. The
//! formulas and every convention the standard leaves open (MTBF, a zero
//! denominator, what counts as which time) are in `docs/kpis.md`; a KPI
//! that cannot be computed is `None`, never a made-up 0 or 1.

pub mod accounting;
pub mod calendar;
pub mod reasons;
pub mod reference;
pub mod state_rules;
pub mod states;

pub use accounting::{Interval, Loss, StateClass, account};

use serde::{Deserialize, Serialize};

/// Time elements of one work unit over one period (ISO 22400-2), in one
/// unit of time of the caller's choosing (the platform uses seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeElements {
    /// Planned operation time: when the unit can be used.
    pub pot: f64,
    /// Planned downtime inside POT: breaks, planned maintenance.
    pub planned_downtime: f64,
    /// Planned busy time: POT less planned downtime.
    pub pbt: f64,
    /// Actual unit down time: available but not running an order (idle).
    pub adot: f64,
    /// Actual unit delay time: breakdowns, minor stops and other unplanned
    /// interruptions while an order runs.
    pub adet: f64,
    /// Actual unit busy time: AUPT + ADET.
    pub aubt: f64,
    /// Actual unit processing time: APT + ASUT.
    pub aupt: f64,
    /// Actual unit setup time.
    pub asut: f64,
    /// Actual production time: producing.
    pub apt: f64,
}

impl TimeElements {
    /// Builds the sums from the parts, so they add up by construction.
    pub fn from_parts(
        pot: f64,
        planned_downtime: f64,
        adot: f64,
        adet: f64,
        asut: f64,
        apt: f64,
    ) -> Self {
        let aupt = apt + asut;
        let aubt = aupt + adet;
        TimeElements {
            pot,
            planned_downtime,
            pbt: pot - planned_downtime,
            adot,
            adet,
            aubt,
            aupt,
            asut,
            apt,
        }
    }

    /// Element-wise sum, for rolling units or periods up.
    pub fn add(&self, o: &TimeElements) -> TimeElements {
        TimeElements {
            pot: self.pot + o.pot,
            planned_downtime: self.planned_downtime + o.planned_downtime,
            pbt: self.pbt + o.pbt,
            adot: self.adot + o.adot,
            adet: self.adet + o.adet,
            aubt: self.aubt + o.aubt,
            aupt: self.aupt + o.aupt,
            asut: self.asut + o.asut,
            apt: self.apt + o.apt,
        }
    }
}

/// Quantities of one work unit or order over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantities {
    /// Produced quantity (good + scrap + rework).
    pub pq: f64,
    /// Good quantity.
    pub gq: f64,
    /// Scrap quantity.
    pub sq: f64,
    /// Rework quantity.
    pub rq: f64,
    /// Planned scrap quantity, if planned.
    pub psq: Option<f64>,
    /// Inspected parts and good parts at the first pass (serialised parts).
    pub ip: Option<f64>,
    pub gp: Option<f64>,
}

/// Failures in the period, for MTBF and MTTR.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Failures {
    /// Failure events (FE).
    pub count: u32,
    /// Operating intervals between failures (TBF), FE + 1 of them when
    /// known; otherwise the unit's operating time (AUPT) is used.
    pub operating_intervals: Option<Vec<f64>>,
    /// Times to restoration (TTR), one per failure.
    pub restoration_times: Vec<f64>,
}

/// Everything a KPI computation takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub time: TimeElements,
    pub quantities: Quantities,
    /// Planned run time per item (PRI): the ideal cycle time, in the time
    /// unit of `time`.
    pub pri: Option<f64>,
    pub failures: Failures,
    /// Actual order execution time (AOET), for order KPIs.
    pub aoet: Option<f64>,
    /// Busy time of all work units of the order (Σ AUBT), for the
    /// allocation ratio; the unit's own AUBT when absent.
    pub order_aubt: Option<f64>,
}

/// The KPIs; `None` where a denominator is zero or an input is missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// APT / PBT
    pub availability: Option<f64>,
    /// PRI × PQ / APT
    pub effectiveness: Option<f64>,
    /// GQ / PQ
    pub quality_ratio: Option<f64>,
    /// Availability × effectiveness × quality ratio
    pub oee_index: Option<f64>,
    /// AUPT / PBT × effectiveness × quality ratio
    pub nee_index: Option<f64>,
    /// APT / (APT + ADET)
    pub technical_efficiency: Option<f64>,
    /// ASUT / AUPT
    pub setup_rate: Option<f64>,
    /// APT / AUBT
    pub utilization_efficiency: Option<f64>,
    /// AUBT / PBT
    pub allocation_efficiency: Option<f64>,
    /// Σ AUBT / AOET
    pub allocation_ratio: Option<f64>,
    /// APT / AOET
    pub production_process_ratio: Option<f64>,
    /// PQ / AOET, per unit of time
    pub throughput_rate: Option<f64>,
    /// GP / IP
    pub first_pass_yield: Option<f64>,
    /// SQ / PQ
    pub scrap_ratio: Option<f64>,
    /// RQ / PQ
    pub rework_ratio: Option<f64>,
    /// SQ / PSQ
    pub actual_to_planned_scrap_ratio: Option<f64>,
    /// Operating time / FE — the platform's MTBF.
    pub mtbf: Option<f64>,
    /// Σ TBF / (FE + 1): the form that counts the unfinished last interval.
    pub mtbf_fe_plus_1: Option<f64>,
    /// Σ TTR / FE
    pub mttr: Option<f64>,
}

/// `a / b`, or `None` when `b` is zero or either is not finite.
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

impl Kpis {
    pub fn compute(i: &Inputs) -> Kpis {
        let t = &i.time;
        let q = &i.quantities;
        let availability = ratio(t.apt, t.pbt);
        let effectiveness = i.pri.and_then(|pri| ratio(pri * q.pq, t.apt));
        let quality_ratio = ratio(q.gq, q.pq);
        let product = |a: Option<f64>, b: Option<f64>, c: Option<f64>| Some(a? * b? * c?);
        let operating = i
            .failures
            .operating_intervals
            .as_ref()
            .map_or(t.aupt, |v| v.iter().sum());
        let fe = f64::from(i.failures.count);
        Kpis {
            availability,
            effectiveness,
            quality_ratio,
            oee_index: product(availability, effectiveness, quality_ratio),
            nee_index: product(ratio(t.aupt, t.pbt), effectiveness, quality_ratio),
            technical_efficiency: ratio(t.apt, t.apt + t.adet),
            setup_rate: ratio(t.asut, t.aupt),
            utilization_efficiency: ratio(t.apt, t.aubt),
            allocation_efficiency: ratio(t.aubt, t.pbt),
            allocation_ratio: i
                .aoet
                .and_then(|aoet| ratio(i.order_aubt.unwrap_or(t.aubt), aoet)),
            production_process_ratio: i.aoet.and_then(|aoet| ratio(t.apt, aoet)),
            throughput_rate: i.aoet.and_then(|aoet| ratio(q.pq, aoet)),
            first_pass_yield: match (q.gp, q.ip) {
                (Some(gp), Some(ip)) => ratio(gp, ip),
                _ => None,
            },
            scrap_ratio: ratio(q.sq, q.pq),
            rework_ratio: ratio(q.rq, q.pq),
            actual_to_planned_scrap_ratio: q.psq.and_then(|psq| ratio(q.sq, psq)),
            mtbf: ratio(operating, fe),
            mtbf_fe_plus_1: ratio(operating, fe + 1.0),
            mttr: ratio(i.failures.restoration_times.iter().sum(), fe),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_denominator_gives_no_value_not_a_guess() {
        let k = Kpis::compute(&Inputs::default());
        assert_eq!(k.availability, None);
        assert_eq!(k.oee_index, None);
        assert_eq!(k.mtbf, None);
        assert_eq!(k.mttr, None);
        // MTBF with no failure is unknown; the FE+1 form is the operating time.
        let i = Inputs {
            time: TimeElements::from_parts(480.0, 0.0, 0.0, 0.0, 0.0, 480.0),
            ..Inputs::default()
        };
        let k = Kpis::compute(&i);
        assert_eq!(k.mtbf, None);
        assert_eq!(k.mtbf_fe_plus_1, Some(480.0));
        assert_eq!(k.availability, Some(1.0));
    }
}
