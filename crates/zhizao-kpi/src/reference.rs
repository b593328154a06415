//! The worked-example file format (`kpi-cases.json`): a `cases` list, each
//! with time elements and quantities under `inputs` in the standard's
//! symbols. [`compute_case`] gives every KPI under the names such files use
//! in `expected`, so a formula can be checked against published answers.

use serde_json::{Map, Value, json};

use crate::{Failures, Inputs, Kpis, Quantities, TimeElements};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct CaseError {
    pub place: String,
    pub message: String,
}

fn number(inputs: &Map<String, Value>, key: &str, place: &str) -> Result<Option<f64>, CaseError> {
    match inputs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| CaseError {
                place: format!("{place}.{key}"),
                message: format!("expected a number, got {v}"),
            }),
    }
}

fn numbers(
    inputs: &Map<String, Value>,
    key: &str,
    place: &str,
) -> Result<Option<Vec<f64>>, CaseError> {
    match inputs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_f64().ok_or_else(|| CaseError {
                    place: format!("{place}.{key}[{i}]"),
                    message: format!("expected a number, got {v}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(v) => Err(CaseError {
            place: format!("{place}.{key}"),
            message: format!("expected a list of numbers, got {v}"),
        }),
    }
}

/// How many of the case's time units make an hour, from its `unit` text.
fn per_hour(inputs: &Map<String, Value>, place: &str) -> Result<f64, CaseError> {
    let unit = inputs
        .get("unit")
        .and_then(Value::as_str)
        .unwrap_or("minutes");
    let word = unit.split_whitespace().next().unwrap_or("");
    Ok(match word {
        "seconds" | "second" | "s" => 3600.0,
        "minutes" | "minute" | "min" => 60.0,
        "hours" | "hour" | "h" => 1.0,
        _ => {
            return Err(CaseError {
                place: format!("{place}.unit"),
                message: format!("`{unit}` is not seconds, minutes or hours"),
            });
        }
    })
}

/// Which time elements and counts a case gives (or fully determines).
#[derive(Debug, Clone, Copy, Default)]
struct Known {
    apt: bool,
    asut: bool,
    adet: bool,
    aupt: bool,
    aubt: bool,
    pbt: bool,
    pq: bool,
    failures: bool,
}

/// The inputs of one case, and what of them is known. A sum missing from
/// the case is derived only from parts that are all given
/// (AUPT = APT + ASUT, AUBT = AUPT + ADET, PBT = POT − planned downtime or
/// AUBT + ADOT); otherwise it stays unknown, and so do the KPIs that need
/// it. Nothing is guessed.
fn case_inputs(inputs: &Map<String, Value>, place: &str) -> Result<(Inputs, Known), CaseError> {
    let n = |k: &str| number(inputs, k, place);
    let (apt, asut, adet, adot) = (n("APT")?, n("ASUT")?, n("ADET")?, n("ADOT")?);
    let aupt = n("AUPT")?.or(match (apt, asut) {
        (Some(p), Some(s)) => Some(p + s),
        _ => None,
    });
    let aubt = n("AUBT")?.or(match (aupt, adet) {
        (Some(p), Some(d)) => Some(p + d),
        _ => None,
    });
    let planned_downtime = n("planned_downtime")?;
    let pot = n("POT")?;
    let pbt = n("PBT")?
        .or(match (pot, planned_downtime) {
            (Some(p), Some(d)) => Some(p - d),
            _ => None,
        })
        .or(match (aubt, adot) {
            (Some(b), Some(d)) => Some(b + d),
            _ => None,
        });
    let (gq, sq, rq) = (n("GQ")?, n("SQ")?, n("RQ")?);
    let pq = n("PQ")?.or(match (gq, sq, rq) {
        (Some(g), Some(s), Some(r)) => Some(g + s + r),
        _ => None,
    });
    let failures = n("FE")?;
    if let Some(fe) = failures
        && (fe < 0.0 || fe.fract() != 0.0)
    {
        return Err(CaseError {
            place: format!("{place}.FE"),
            message: format!("{fe} is not a whole count"),
        });
    }
    let known = Known {
        apt: apt.is_some(),
        asut: asut.is_some(),
        adet: adet.is_some(),
        aupt: aupt.is_some(),
        aubt: aubt.is_some(),
        pbt: pbt.is_some(),
        pq: pq.is_some(),
        failures: failures.is_some(),
    };
    let z = |x: Option<f64>| x.unwrap_or(0.0);
    let inputs = Inputs {
        time: TimeElements {
            pot: z(pot),
            planned_downtime: z(planned_downtime),
            pbt: z(pbt),
            adot: z(adot),
            adet: z(adet),
            aubt: z(aubt),
            aupt: z(aupt),
            asut: z(asut),
            apt: z(apt),
        },
        quantities: Quantities {
            pq: z(pq),
            gq: z(gq),
            sq: z(sq),
            rq: z(rq),
            psq: n("planned_scrap_PSQ")?.or(n("PSQ")?),
            ip: n("inspected_parts_IP")?.or(n("IP")?),
            gp: n("good_parts_first_pass_GP")?.or(n("GP")?),
        },
        pri: n("PRI_min_per_piece")?.or(n("PRI")?),
        failures: Failures {
            count: z(failures) as u32,
            operating_intervals: numbers(inputs, "TBF_operating_intervals", place)?
                .or(numbers(inputs, "TBF", place)?),
            restoration_times: numbers(inputs, "TTR", place)?.unwrap_or_default(),
        },
        aoet: n("AOET")?,
        order_aubt: n("AUBT_all_work_units")?,
    };
    Ok((inputs, known))
}

/// Every KPI of one case, under the reference file's names; a KPI whose
/// inputs the case does not give is `null`.
pub fn compute_case(inputs: &Map<String, Value>, place: &str) -> Result<Value, CaseError> {
    let (i, known) = case_inputs(inputs, place)?;
    let k = Kpis::compute(&i);
    let per_hour = per_hour(inputs, place)?;
    let when = |ok: bool, v: Option<f64>| if ok { v } else { None };
    let q = &i.quantities;
    let identity = match (i.pri, known.pbt && i.time.pbt != 0.0 && known.pq) {
        (Some(pri), true) => Some(pri * q.gq / i.time.pbt),
        _ => None,
    };
    let a = when(known.apt && known.pbt, k.availability);
    let e = when(known.apt && known.pq, k.effectiveness);
    let qr = when(known.pq, k.quality_ratio);
    let has_tbf = known.aupt || i.failures.operating_intervals.is_some();
    Ok(json!({
        "availability": a,
        "effectiveness": e,
        "quality_ratio": qr,
        "oee_index": when(a.is_some() && e.is_some(), k.oee_index),
        "oee_identity_PRIxGQ_over_PBT": identity,
        "nee_index": when(known.aupt && known.pbt && e.is_some(), k.nee_index),
        "technical_efficiency": when(known.apt && known.adet, k.technical_efficiency),
        "setup_rate": when(known.asut && known.aupt, k.setup_rate),
        "utilization_efficiency": when(known.apt && known.aubt, k.utilization_efficiency),
        "allocation_efficiency": when(known.aubt && known.pbt, k.allocation_efficiency),
        "allocation_ratio": when(known.aubt || i.order_aubt.is_some(), k.allocation_ratio),
        "production_process_ratio": when(known.apt, k.production_process_ratio),
        "throughput_rate_per_min": when(known.pq, k.throughput_rate.map(|r| r * per_hour / 60.0)),
        "throughput_rate_per_hour": when(known.pq, k.throughput_rate.map(|r| r * per_hour)),
        "first_pass_yield": k.first_pass_yield,
        "scrap_ratio": when(known.pq, k.scrap_ratio),
        "rework_ratio": when(known.pq, k.rework_ratio),
        "actual_to_planned_scrap_ratio": k.actual_to_planned_scrap_ratio,
        "mtbf_iso_FE_plus_1": when(known.failures && has_tbf, k.mtbf_fe_plus_1),
        "mtbf_operating_time_over_failures": when(known.failures && has_tbf, k.mtbf),
        "mttr": when(known.failures, k.mttr),
    }))
}

/// Computes every case of a reference document: `{case id: {kpi: value}}`.
pub fn compute_all(doc: &Value) -> Result<Value, CaseError> {
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| CaseError {
            place: "cases".into(),
            message: "expected a list of cases".into(),
        })?;
    let mut out = Map::new();
    for (n, case) in cases.iter().enumerate() {
        let place = format!("cases[{n}]");
        let id = case
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| CaseError {
                place: format!("{place}.id"),
                message: "missing".into(),
            })?;
        let inputs = case
            .get("inputs")
            .and_then(Value::as_object)
            .ok_or_else(|| CaseError {
                place: format!("{place}.inputs"),
                message: "expected an object".into(),
            })?;
        out.insert(
            id.to_owned(),
            compute_case(inputs, &format!("{place}.inputs"))?,
        );
    }
    Ok(Value::Object(out))
}
