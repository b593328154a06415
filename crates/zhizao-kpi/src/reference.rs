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

/// The inputs of one case. Missing sums are filled from their parts
/// (PBT = POT − planned downtime, AUPT = APT + ASUT, AUBT = AUPT + ADET),
/// and given sums are kept as given.
pub fn case_inputs(inputs: &Map<String, Value>, place: &str) -> Result<Inputs, CaseError> {
    let n = |k: &str| number(inputs, k, place);
    let apt = n("APT")?.unwrap_or(0.0);
    let asut = n("ASUT")?.unwrap_or(0.0);
    let adet = n("ADET")?.unwrap_or(0.0);
    let adot = n("ADOT")?.unwrap_or(0.0);
    let aupt = n("AUPT")?.unwrap_or(apt + asut);
    let aubt = n("AUBT")?.unwrap_or(aupt + adet);
    let planned_downtime = n("planned_downtime")?;
    let pot = n("POT")?;
    let pbt = match (n("PBT")?, pot, planned_downtime) {
        (Some(pbt), _, _) => pbt,
        (None, Some(pot), Some(pd)) => pot - pd,
        (None, _, _) => aubt + adot,
    };
    let pq_given = n("PQ")?;
    let (gq, sq, rq) = (
        n("GQ")?.unwrap_or(0.0),
        n("SQ")?.unwrap_or(0.0),
        n("RQ")?.unwrap_or(0.0),
    );
    let failures = n("FE")?.unwrap_or(0.0);
    if failures < 0.0 || failures.fract() != 0.0 {
        return Err(CaseError {
            place: format!("{place}.FE"),
            message: format!("{failures} is not a whole count"),
        });
    }
    Ok(Inputs {
        time: TimeElements {
            pot: pot.unwrap_or(pbt + planned_downtime.unwrap_or(0.0)),
            planned_downtime: planned_downtime.unwrap_or(0.0),
            pbt,
            adot,
            adet,
            aubt,
            aupt,
            asut,
            apt,
        },
        quantities: Quantities {
            pq: pq_given.unwrap_or(gq + sq + rq),
            gq,
            sq,
            rq,
            psq: n("planned_scrap_PSQ")?.or(n("PSQ")?),
            ip: n("inspected_parts_IP")?.or(n("IP")?),
            gp: n("good_parts_first_pass_GP")?.or(n("GP")?),
        },
        pri: n("PRI_min_per_piece")?.or(n("PRI")?),
        failures: Failures {
            count: failures as u32,
            operating_intervals: numbers(inputs, "TBF_operating_intervals", place)?
                .or(numbers(inputs, "TBF", place)?),
            restoration_times: numbers(inputs, "TTR", place)?.unwrap_or_default(),
        },
        aoet: n("AOET")?,
        order_aubt: n("AUBT_all_work_units")?,
    })
}

/// Every KPI of one case, under the reference file's names; a KPI that
/// cannot be computed is `null`.
pub fn compute_case(inputs: &Map<String, Value>, place: &str) -> Result<Value, CaseError> {
    let i = case_inputs(inputs, place)?;
    let k = Kpis::compute(&i);
    let per_hour = per_hour(inputs, place)?;
    let identity = i
        .pri
        .and_then(|pri| (i.time.pbt != 0.0).then(|| pri * i.quantities.gq / i.time.pbt));
    Ok(json!({
        "availability": k.availability,
        "effectiveness": k.effectiveness,
        "quality_ratio": k.quality_ratio,
        "oee_index": k.oee_index,
        "oee_identity_PRIxGQ_over_PBT": identity,
        "nee_index": k.nee_index,
        "technical_efficiency": k.technical_efficiency,
        "setup_rate": k.setup_rate,
        "utilization_efficiency": k.utilization_efficiency,
        "allocation_efficiency": k.allocation_efficiency,
        "allocation_ratio": k.allocation_ratio,
        "production_process_ratio": k.production_process_ratio,
        "throughput_rate_per_min": k.throughput_rate.map(|r| r * per_hour / 60.0),
        "throughput_rate_per_hour": k.throughput_rate.map(|r| r * per_hour),
        "first_pass_yield": k.first_pass_yield,
        "scrap_ratio": k.scrap_ratio,
        "rework_ratio": k.rework_ratio,
        "actual_to_planned_scrap_ratio": k.actual_to_planned_scrap_ratio,
        "mtbf_iso_FE_plus_1": k.mtbf_fe_plus_1,
        "mtbf_operating_time_over_failures": k.mtbf,
        "mttr": k.mttr,
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
