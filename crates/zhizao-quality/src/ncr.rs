//! Nonconformance reports as a state machine: recorded → contained →
//! disposition proposed → dispositioned (approved by someone else) →
//! investigated (root cause, corrective and preventive actions) →
//! verified and closed. Every step is an [`NcrAction`] checked against the
//! report's state and the actor's role; the store keeps each applied
//! action as the audit trail.

use serde::{Deserialize, Serialize};
use zhizao_core::{FieldError, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NcrStatus {
    /// Recorded: what, where, how many.
    Open,
    /// The suspect units are held.
    Contained,
    /// A disposition waits for approval.
    DispositionProposed,
    /// The disposition is approved; the cause is being found.
    Dispositioned,
    /// Root cause found and actions set; they are being carried out.
    ActionsOpen,
    /// Every action is done; its effect is checked.
    Verification,
    Closed,
    Cancelled,
}

impl NcrStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NcrStatus::Open => "open",
            NcrStatus::Contained => "contained",
            NcrStatus::DispositionProposed => "disposition_proposed",
            NcrStatus::Dispositioned => "dispositioned",
            NcrStatus::ActionsOpen => "actions_open",
            NcrStatus::Verification => "verification",
            NcrStatus::Closed => "closed",
            NcrStatus::Cancelled => "cancelled",
        }
    }
}

/// What happens to the nonconforming units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// A concession: an admin (the review board) must approve it.
    UseAsIs,
    Rework,
    Repair,
    Scrap,
    ReturnToSupplier,
}

/// The fishbone's six categories: 人机料法环测.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseCategory {
    Man,
    Machine,
    Material,
    Method,
    Environment,
    Measurement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Corrective,
    Preventive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispositionLine {
    pub decision: Decision,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disposition {
    pub lines: Vec<DispositionLine>,
    pub proposed_by: String,
    pub approved_by: Option<String>,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// The 5 Whys, each answer asking the next why (1 to 5).
    pub whys: Vec<String>,
    pub category: CauseCategory,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapaAction {
    pub kind: ActionKind,
    pub description: String,
    pub owner: String,
    /// Due date, `YYYY-MM-DD`.
    pub due: String,
    pub done_at: Option<i64>,
    pub note: String,
}

/// What a report says when it is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNcr {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub item: String,
    pub quantity: f64,
    #[serde(default)]
    pub work_order: String,
    #[serde(default)]
    pub operation_seq: Option<i32>,
    #[serde(default)]
    pub equipment: String,
    #[serde(default)]
    pub lot: String,
    /// The characteristic and sample that showed it, when a chart did.
    #[serde(default)]
    pub characteristic: Option<String>,
    #[serde(default)]
    pub sample_number: Option<i64>,
}

/// A nonconformance report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ncr {
    pub number: String,
    #[serde(flatten)]
    pub what: NewNcr,
    pub status: NcrStatus,
    pub created_by: String,
    pub created_at: i64,
    pub containment: Option<String>,
    pub quantity_held: Option<f64>,
    pub disposition: Option<Disposition>,
    pub root_cause: Option<RootCause>,
    pub actions: Vec<CapaAction>,
    pub verification: Option<String>,
    pub closed_at: Option<i64>,
}

/// One step of the workflow, as posted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum NcrAction {
    Contain {
        containment: String,
        quantity_held: f64,
    },
    ProposeDisposition {
        lines: Vec<DispositionLine>,
        #[serde(default)]
        comment: String,
    },
    ApproveDisposition {
        #[serde(default)]
        comment: String,
    },
    RejectDisposition {
        comment: String,
    },
    RecordRootCause {
        whys: Vec<String>,
        category: CauseCategory,
        summary: String,
    },
    AddAction {
        kind: ActionKind,
        description: String,
        owner: String,
        due: String,
    },
    CompleteAction {
        index: usize,
        #[serde(default)]
        note: String,
    },
    /// Confirms every action worked (closing the report), or sends it back
    /// to its actions.
    Verify {
        effective: bool,
        note: String,
    },
    Cancel {
        reason: String,
    },
}

impl NcrAction {
    pub fn name(&self) -> &'static str {
        match self {
            NcrAction::Contain { .. } => "contain",
            NcrAction::ProposeDisposition { .. } => "propose_disposition",
            NcrAction::ApproveDisposition { .. } => "approve_disposition",
            NcrAction::RejectDisposition { .. } => "reject_disposition",
            NcrAction::RecordRootCause { .. } => "record_root_cause",
            NcrAction::AddAction { .. } => "add_action",
            NcrAction::CompleteAction { .. } => "complete_action",
            NcrAction::Verify { .. } => "verify",
            NcrAction::Cancel { .. } => "cancel",
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NcrError {
    /// The input is wrong; `field` names where.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The report is not in a state that allows the action.
    #[error("{action} is not possible while the report is {status}")]
    WrongState {
        action: &'static str,
        status: &'static str,
    },
    /// The actor may not do it.
    #[error("{0}")]
    Forbidden(String),
}

/// Who does something.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub username: String,
    pub role: Role,
}

fn text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be blank"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

fn quantity(field: &str, q: f64) -> Result<(), FieldError> {
    if q.is_finite() && q > 0.0 {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("{q}: must be a positive quantity"),
        ))
    }
}

fn due_date(field: &str, due: &str) -> Result<(), FieldError> {
    let parts: Vec<&str> = due.split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[1].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && parts[2].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("`{due}` is not a date YYYY-MM-DD"),
        ))
    }
}

/// Who may work on reports at all.
fn may_work(actor: &Actor) -> bool {
    matches!(actor.role, Role::Admin | Role::Quality)
}

impl NewNcr {
    pub fn validate(&self) -> Result<(), FieldError> {
        text("title", &self.title, 200)?;
        if self.description.chars().count() > 4000 {
            return Err(FieldError::new(
                "description",
                "must be at most 4000 characters",
            ));
        }
        zhizao_core::validate_code("item", &self.item)?;
        quantity("quantity", self.quantity)?;
        if !self.equipment.is_empty() {
            zhizao_core::validate_code("equipment", &self.equipment)?;
        }
        for (field, v) in [("work_order", &self.work_order), ("lot", &self.lot)] {
            if v.chars().count() > 100 {
                return Err(FieldError::new(field, "must be at most 100 characters"));
            }
        }
        Ok(())
    }
}

impl Ncr {
    /// A new report, checked.
    pub fn record(number: String, what: NewNcr, by: &Actor, at: i64) -> Result<Ncr, NcrError> {
        // Anyone but a viewer may report a nonconformance.
        if by.role == Role::Viewer {
            return Err(NcrError::Forbidden(
                "a viewer may not record a nonconformance".into(),
            ));
        }
        what.validate()?;
        Ok(Ncr {
            number,
            what,
            status: NcrStatus::Open,
            created_by: by.username.clone(),
            created_at: at,
            containment: None,
            quantity_held: None,
            disposition: None,
            root_cause: None,
            actions: Vec::new(),
            verification: None,
            closed_at: None,
        })
    }

    /// The report after `action` by `actor` at `at`, or why not.
    pub fn apply(&self, action: &NcrAction, actor: &Actor, at: i64) -> Result<Ncr, NcrError> {
        use NcrStatus as S;
        if !may_work(actor) {
            return Err(NcrError::Forbidden(format!(
                "role `{}` may not work on nonconformance reports; quality engineers and admins do",
                actor.role.as_str()
            )));
        }
        let wrong = || NcrError::WrongState {
            action: action.name(),
            status: self.status.as_str(),
        };
        let mut next = self.clone();
        match action {
            NcrAction::Contain {
                containment,
                quantity_held,
            } => {
                if !matches!(self.status, S::Open | S::Contained) {
                    return Err(wrong());
                }
                text("containment", containment, 2000)?;
                if !(quantity_held.is_finite() && *quantity_held >= 0.0) {
                    return Err(FieldError::new("quantity_held", "must be 0 or more").into());
                }
                next.containment = Some(containment.trim().to_owned());
                next.quantity_held = Some(*quantity_held);
                next.status = S::Contained;
            }
            NcrAction::ProposeDisposition { lines, comment } => {
                if self.status != S::Contained {
                    return Err(wrong());
                }
                if lines.is_empty() {
                    return Err(FieldError::new("lines", "give at least one decision").into());
                }
                for (i, l) in lines.iter().enumerate() {
                    quantity(&format!("lines[{i}].quantity"), l.quantity)?;
                }
                let total: f64 = lines.iter().map(|l| l.quantity).sum();
                if (total - self.what.quantity).abs() > 1e-9 {
                    return Err(FieldError::new(
                        "lines",
                        format!(
                            "the decisions cover {total} units but the report has {}",
                            self.what.quantity
                        ),
                    )
                    .into());
                }
                next.disposition = Some(Disposition {
                    lines: lines.clone(),
                    proposed_by: actor.username.clone(),
                    approved_by: None,
                    comment: comment.trim().to_owned(),
                });
                next.status = S::DispositionProposed;
            }
            NcrAction::ApproveDisposition { comment } => {
                let Some(d) = &self.disposition else {
                    return Err(wrong());
                };
                if self.status != S::DispositionProposed {
                    return Err(wrong());
                }
                if d.proposed_by == actor.username {
                    return Err(NcrError::Forbidden(
                        "a disposition is approved by someone other than who proposed it".into(),
                    ));
                }
                if d.lines.iter().any(|l| l.decision == Decision::UseAsIs)
                    && actor.role != Role::Admin
                {
                    return Err(NcrError::Forbidden(
                        "using nonconforming units as they are is a concession; an admin approves it".into(),
                    ));
                }
                let mut d = d.clone();
                d.approved_by = Some(actor.username.clone());
                if !comment.trim().is_empty() {
                    d.comment = comment.trim().to_owned();
                }
                next.disposition = Some(d);
                next.status = S::Dispositioned;
            }
            NcrAction::RejectDisposition { comment } => {
                if self.status != S::DispositionProposed {
                    return Err(wrong());
                }
                text("comment", comment, 2000)?;
                next.disposition = None;
                next.status = S::Contained;
            }
            NcrAction::RecordRootCause {
                whys,
                category,
                summary,
            } => {
                if !matches!(self.status, S::Dispositioned | S::ActionsOpen) {
                    return Err(wrong());
                }
                if whys.is_empty() || whys.len() > 5 {
                    return Err(FieldError::new("whys", "give one to five answers to why").into());
                }
                for (i, w) in whys.iter().enumerate() {
                    text(&format!("whys[{i}]"), w, 500)?;
                }
                text("summary", summary, 2000)?;
                next.root_cause = Some(RootCause {
                    whys: whys.iter().map(|w| w.trim().to_owned()).collect(),
                    category: *category,
                    summary: summary.trim().to_owned(),
                });
                next.status = S::ActionsOpen;
            }
            NcrAction::AddAction {
                kind,
                description,
                owner,
                due,
            } => {
                if self.status != S::ActionsOpen {
                    return Err(wrong());
                }
                text("description", description, 2000)?;
                text("owner", owner, 100)?;
                due_date("due", due)?;
                next.actions.push(CapaAction {
                    kind: *kind,
                    description: description.trim().to_owned(),
                    owner: owner.trim().to_owned(),
                    due: due.clone(),
                    done_at: None,
                    note: String::new(),
                });
            }
            NcrAction::CompleteAction { index, note } => {
                if self.status != S::ActionsOpen {
                    return Err(wrong());
                }
                let a = next.actions.get_mut(*index).ok_or_else(|| {
                    FieldError::new("index", format!("there is no action {index}"))
                })?;
                if a.done_at.is_some() {
                    return Err(FieldError::new(
                        "index",
                        format!("action {index} is done already"),
                    )
                    .into());
                }
                a.done_at = Some(at);
                a.note = note.trim().to_owned();
                let corrective = next
                    .actions
                    .iter()
                    .any(|a| a.kind == ActionKind::Corrective);
                if corrective && next.actions.iter().all(|a| a.done_at.is_some()) {
                    next.status = S::Verification;
                }
            }
            NcrAction::Verify { effective, note } => {
                if self.status != S::Verification {
                    return Err(wrong());
                }
                text("note", note, 2000)?;
                next.verification = Some(note.trim().to_owned());
                if *effective {
                    next.status = S::Closed;
                    next.closed_at = Some(at);
                } else {
                    // Not effective: back to finding the cause and acting.
                    next.status = S::ActionsOpen;
                }
            }
            NcrAction::Cancel { reason } => {
                if matches!(self.status, S::Closed | S::Cancelled) {
                    return Err(wrong());
                }
                text("reason", reason, 2000)?;
                next.verification = Some(reason.trim().to_owned());
                next.status = S::Cancelled;
                next.closed_at = Some(at);
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str, role: Role) -> Actor {
        Actor {
            username: name.into(),
            role,
        }
    }

    fn report() -> Ncr {
        Ncr::record(
            "NCR-1".into(),
            NewNcr {
                title: "内孔超差".into(),
                description: String::new(),
                item: "CASING-50".into(),
                quantity: 12.0,
                work_order: "WO-7".into(),
                operation_seq: Some(10),
                equipment: "TRN-01".into(),
                lot: "L-3".into(),
                characteristic: Some("BORE-D".into()),
                sample_number: Some(31),
            },
            &who("op", Role::Operator),
            0,
        )
        .unwrap()
    }

    #[test]
    fn the_whole_flow_ends_closed() {
        let q1 = who("q1", Role::Quality);
        let q2 = who("q2", Role::Quality);
        let steps = [
            (
                &q1,
                NcrAction::Contain {
                    containment: "隔离 12 件".into(),
                    quantity_held: 12.0,
                },
            ),
            (
                &q1,
                NcrAction::ProposeDisposition {
                    lines: vec![
                        DispositionLine {
                            decision: Decision::Rework,
                            quantity: 10.0,
                        },
                        DispositionLine {
                            decision: Decision::Scrap,
                            quantity: 2.0,
                        },
                    ],
                    comment: String::new(),
                },
            ),
            (
                &q2,
                NcrAction::ApproveDisposition {
                    comment: String::new(),
                },
            ),
            (
                &q1,
                NcrAction::RecordRootCause {
                    whys: vec!["刀具磨损".into(), "换刀周期过长".into()],
                    category: CauseCategory::Machine,
                    summary: "换刀周期未按磨损设定".into(),
                },
            ),
            (
                &q1,
                NcrAction::AddAction {
                    kind: ActionKind::Corrective,
                    description: "换刀周期改为 20 件".into(),
                    owner: "王工".into(),
                    due: "2026-12-05".into(),
                },
            ),
            (
                &q1,
                NcrAction::CompleteAction {
                    index: 0,
                    note: String::new(),
                },
            ),
            (
                &q2,
                NcrAction::Verify {
                    effective: true,
                    note: "连续 3 班受控".into(),
                },
            ),
        ];
        let mut r = report();
        for (at, (actor, action)) in steps.iter().enumerate() {
            r = r.apply(action, actor, at as i64).unwrap();
        }
        assert_eq!(r.status, NcrStatus::Closed);
        assert_eq!(r.closed_at, Some(6));
    }

    #[test]
    fn the_proposer_does_not_approve_and_a_concession_needs_an_admin() {
        let q1 = who("q1", Role::Quality);
        let r = report()
            .apply(
                &NcrAction::Contain {
                    containment: "hold".into(),
                    quantity_held: 12.0,
                },
                &q1,
                1,
            )
            .unwrap()
            .apply(
                &NcrAction::ProposeDisposition {
                    lines: vec![DispositionLine {
                        decision: Decision::UseAsIs,
                        quantity: 12.0,
                    }],
                    comment: String::new(),
                },
                &q1,
                2,
            )
            .unwrap();
        let approve = NcrAction::ApproveDisposition {
            comment: String::new(),
        };
        assert!(matches!(
            r.apply(&approve, &q1, 3),
            Err(NcrError::Forbidden(_))
        ));
        assert!(matches!(
            r.apply(&approve, &who("q2", Role::Quality), 3),
            Err(NcrError::Forbidden(_))
        ));
        assert!(r.apply(&approve, &who("boss", Role::Admin), 3).is_ok());
    }

    #[test]
    fn decisions_must_cover_the_quantity_and_steps_keep_their_order() {
        let q1 = who("q1", Role::Quality);
        let r = report();
        let propose = NcrAction::ProposeDisposition {
            lines: vec![DispositionLine {
                decision: Decision::Scrap,
                quantity: 5.0,
            }],
            comment: String::new(),
        };
        assert!(matches!(
            r.apply(&propose, &q1, 1),
            Err(NcrError::WrongState { .. })
        ));
        let r = r
            .apply(
                &NcrAction::Contain {
                    containment: "hold".into(),
                    quantity_held: 12.0,
                },
                &q1,
                1,
            )
            .unwrap();
        match r.apply(&propose, &q1, 2) {
            Err(NcrError::Invalid(e)) => assert_eq!(e.field, "lines"),
            other => panic!("{other:?}"),
        }
        let bad_due = NcrAction::AddAction {
            kind: ActionKind::Preventive,
            description: "x".into(),
            owner: "y".into(),
            due: "next week".into(),
        };
        assert!(matches!(
            r.apply(&bad_due, &q1, 3),
            Err(NcrError::WrongState { .. })
        ));
        assert!(matches!(
            r.apply(
                &NcrAction::Contain {
                    containment: "hold".into(),
                    quantity_held: 1.0
                },
                &who("v", Role::Viewer),
                3
            ),
            Err(NcrError::Forbidden(_))
        ));
    }
}
