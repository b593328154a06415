//! The plant's model end to end through the public API: random plants
//! with calendars, setups, release and due dates, links and fixed
//! operations are scheduled, checked by the independent checker and
//! repeated; a breakdown is repaired moving only what it must; late jobs
//! are explained.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use proptest::prelude::*;
use zhizao_schedule::{
    Format, Instance, Job, Link, MachineCalendar, Objective, OpRef, Operation, Placement,
    SolveOptions, Term, check, late_jobs, parse, reached, repair, solve,
};

fn options(seed: u64, iterations: u64) -> SolveOptions {
    SolveOptions {
        time_limit: Duration::from_secs(60),
        max_iterations: Some(iterations),
        threads: 2,
        seed,
    }
}

fn objective(pick: u8) -> Objective {
    match pick % 4 {
        0 => Objective::default(),
        1 => Objective::Lexicographic {
            terms: vec![Term::Tardiness, Term::Makespan],
        },
        2 => Objective::Weighted {
            makespan: 1,
            tardiness: 5,
            setup: 2,
            disruption: 0,
        },
        _ => Objective::Lexicographic {
            terms: vec![Term::Setup, Term::Tardiness],
        },
    }
}

prop_compose! {
    fn operation(machines: usize, families: usize)(
        modes in proptest::collection::vec((0..machines, 1u32..20), 1..4),
        family in 0..families.max(1),
        splittable in any::<bool>(),
        setup in proptest::option::weighted(0.3, 1u32..8),
    ) -> Operation {
        let mut modes = modes;
        modes.sort_by_key(|m| m.0);
        modes.dedup_by_key(|m| m.0);
        Operation {
            modes,
            family: (families > 0).then_some(family),
            splittable,
            setup: setup.unwrap_or(0),
            ..Operation::default()
        }
    }
}

prop_compose! {
    fn job(machines: usize, families: usize)(
        operations in proptest::collection::vec(operation(machines, families), 1..5),
        chain in proptest::bool::weighted(0.8),
        release in 0u64..40,
        due in proptest::option::of(20u64..200),
        weight in 1u32..5,
    ) -> Job {
        Job { operations, chain, release, due, weight }
    }
}

prop_compose! {
    fn plant()(machines in 1usize..5, families in 0usize..4)(
        machines in Just(machines),
        families in Just(families),
        jobs in proptest::collection::vec(job(machines, families), 1..7),
        setups in proptest::collection::vec(proptest::collection::vec(0u32..12, families), families),
        downtime in proptest::collection::vec(
            proptest::collection::vec((0u64..300, 1u64..30), 0..4), machines),
        initial in proptest::option::of(0..families.max(1)),
        links in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..4),
        fix in proptest::collection::vec(any::<bool>(), 6),
        now in 0u64..20,
        pick in any::<u8>(),
    ) -> Instance {
        let setups: Vec<Vec<u32>> = setups
            .into_iter()
            .enumerate()
            .map(|(a, row)| row.into_iter().enumerate().map(|(b, s)| if a == b { 0 } else { s }).collect())
            .collect();
        let mut inst = Instance::job_shop(machines, Vec::new());
        inst.jobs = jobs;
        inst.setups = setups;
        inst.calendars = downtime
            .into_iter()
            .map(|d| MachineCalendar {
                downtime: d.into_iter().map(|(a, l)| (a, a + l)).collect(),
                initial_family: if families > 0 { initial } else { None },
            })
            .collect();
        inst.now = now;
        inst.objective = objective(pick);
        // Links only from an earlier operation (in job order) to a later
        // one, so there is no cycle.
        let refs: Vec<OpRef> = inst
            .numbering()
            .into_iter()
            .map(|(job, operation)| OpRef { job, operation })
            .collect();
        for (a, b) in links {
            let (x, y) = (a.index(refs.len()), b.index(refs.len()));
            if x < y {
                inst.links.push(Link { before: refs[x], after: refs[y] });
            }
        }
        // Fix the first operation of some jobs, when nothing precedes it,
        // one after another on its first machine.
        let mut free_from = vec![0u64; machines];
        let preds = inst.predecessors();
        let starts: Vec<usize> = inst
            .jobs
            .iter()
            .scan(0, |at, j| {
                let s = *at;
                *at += j.operations.len();
                Some(s)
            })
            .collect();
        for (j, f) in fix.into_iter().enumerate().take(inst.jobs.len()) {
            if !f || !preds[starts[j]].is_empty() {
                continue;
            }
            let op = &mut inst.jobs[j].operations[0];
            let (m, d) = op.modes[0];
            op.fixed = Some(Placement { machine: m, start: free_from[m] });
            free_from[m] += u64::from(d) + 3;
        }
        inst
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Every schedule passes the independent checker with the costs it
    /// states, and the same seed, threads and budget give the same one.
    #[test]
    fn plant_schedules_are_valid_and_repeatable(inst in plant(), seed in 0u64..1000) {
        prop_assume!(inst.validate().is_ok());
        let a = solve(&inst, &options(seed, 300), &AtomicBool::new(false));
        let costs = check(&inst, &a);
        prop_assert!(costs.is_ok(), "{:?}\n{}", costs, serde_json::to_string(&inst).unwrap_or_default());
        prop_assert_eq!(a.costs, costs.ok());
        let b = solve(&inst, &options(seed, 300), &AtomicBool::new(false));
        prop_assert_eq!(a, b);
    }

    /// After a breakdown, the repaired schedule is valid and moves only
    /// operations the breakdown (or the clock) reaches.
    #[test]
    fn a_repair_moves_only_what_the_breakdown_reaches(
        inst in plant(),
        machine in any::<prop::sample::Index>(),
        at in 0u64..150,
        length in 1u64..60,
    ) {
        prop_assume!(inst.validate().is_ok());
        let mut inst = inst;
        inst.objective = Objective::default();
        let old = solve(&inst, &options(1, 200), &AtomicBool::new(false));
        // The plant as it is at `at`: what has started is fixed, the rest
        // keeps its place as the previous schedule, one machine is down.
        let machine = machine.index(inst.machines);
        let down = (at, at + length);
        inst.now = inst.now.max(at);
        for s in &old.operations {
            let op = &mut inst.jobs[s.job].operations[s.operation];
            if op.fixed.is_none() && s.start < at {
                op.fixed = Some(Placement { machine: s.machine, start: s.start });
                op.fixed_setup = s.setup_start.map_or(0, |ss| (s.start - ss) as u32);
            } else if op.fixed.is_none() {
                op.previous = Some(Placement { machine: s.machine, start: s.start });
            }
        }
        if inst.calendars.is_empty() {
            inst.calendars = vec![MachineCalendar::default(); inst.machines];
        }
        inst.calendars[machine].downtime.push(down);
        // Fixing what started may make it overlap (a split operation is
        // fixed as one stretch); such a plant is not a repair case.
        prop_assume!(inst.validate().is_ok());
        let allowed = reached(&inst, &old, machine, down);
        let new = repair(&inst);
        let costs = check(&inst, &new);
        prop_assert!(costs.is_ok(), "{:?}", costs);
        for s in &new.operations {
            let r = OpRef { job: s.job, operation: s.operation };
            let before = old.operations.iter().find(|o| o.job == s.job && o.operation == s.operation);
            let moved = before.is_some_and(|b| (b.machine, b.start) != (s.machine, s.start));
            prop_assert!(!moved || allowed.contains(&r), "{r:?} moved without cause\n{}\n{}\n{}", serde_json::to_string(&inst).unwrap_or_default(), serde_json::to_string(&old).unwrap_or_default(), serde_json::to_string(&new).unwrap_or_default());
        }
    }
}

#[test]
fn a_cyclic_precedence_in_a_json_file_names_its_line() {
    let text = r#"{
  "machines": 2,
  "jobs": [
    {"operations": [{"modes": [[0, 5]]}, {"modes": [[1, 5]]}]},
    {"operations": [{"modes": [[1, 5]]}]}
  ],
  "links": [
    {"before": {"job": 0, "operation": 1}, "after": {"job": 1, "operation": 0}},
    {"before": {"job": 1, "operation": 0}, "after": {"job": 0, "operation": 0}}
  ]
}"#;
    let e = parse(text, Format::Json).unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("the precedence is a cycle"), "{e}");
    let bad_machine = text.replace(
        r#""operations": [{"modes": [[1, 5]]}]"#,
        r#""operations": [{"modes": [[4, 5]]}]"#,
    );
    let e = parse(&bad_machine, Format::Json).unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("machine 4 does not exist"), "{e}");
    let negative = text.replace("[[0, 5]]", "[[0, -5]]");
    let e = parse(&negative, Format::Json).unwrap_err();
    assert_eq!(e.line, 4, "{e}");
}

#[test]
fn setups_calendars_and_due_dates_shape_the_schedule() {
    // One machine, two families with a setup of 10 between them, closed
    // 20–40. Job 0 (family 0) is due early; jobs 1 and 2 are family 1.
    let text = r#"{
  "machines": 1,
  "calendars": [{"downtime": [[20, 40]], "initial_family": 1}],
  "setups": [[0, 10], [10, 0]],
  "jobs": [
    {"operations": [{"modes": [[0, 8]], "family": 0}], "due": 10, "weight": 5},
    {"operations": [{"modes": [[0, 6]], "family": 1}], "due": 100},
    {"operations": [{"modes": [[0, 6]], "family": 1}], "due": 100}
  ],
  "objective": {"kind": "lexicographic", "terms": ["tardiness", "setup", "makespan"]}
}"#;
    let inst = parse(text, Format::Json).unwrap_or_else(|e| panic!("{e}"));
    let s = solve(&inst, &options(1, 2_000), &AtomicBool::new(false));
    let costs = check(&inst, &s).unwrap_or_else(|e| panic!("{e}"));
    // Job 0 first: setup 0–10 from the initial family, runs 10–18 (8
    // late, weight 5); then a setup 18–20 + 40–48 and both family-1 jobs.
    assert_eq!(costs.weighted_tardiness, 40);
    assert_eq!(costs.setup_time, 20);
    assert_eq!(s.makespan, 60);
    let late = late_jobs(&inst, &s);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].job, 0);
    assert_eq!(late[0].bottleneck, Some(0));
}

#[test]
fn a_late_assembly_is_explained_by_its_chain() {
    // Two parts made on machines 0 and 1 feed an assembly on machine 2;
    // the long part on machine 1 makes the assembly late.
    let mut inst = Instance::job_shop(
        3,
        vec![
            vec![Operation::on(vec![(0, 5)])],
            vec![Operation::on(vec![(1, 30)])],
            vec![Operation::on(vec![(2, 10)])],
        ],
    );
    inst.jobs[2].due = Some(20);
    inst.objective = Objective::Lexicographic {
        terms: vec![Term::Tardiness],
    };
    for part in [0, 1] {
        inst.links.push(Link {
            before: OpRef {
                job: part,
                operation: 0,
            },
            after: OpRef {
                job: 2,
                operation: 0,
            },
        });
    }
    inst.validate().unwrap_or_else(|e| panic!("{e}"));
    let s = solve(&inst, &options(1, 100), &AtomicBool::new(false));
    check(&inst, &s).unwrap_or_else(|e| panic!("{e}"));
    let late = late_jobs(&inst, &s);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].tardiness, 20);
    let chain: Vec<(usize, usize)> = late[0].chain.iter().map(|c| (c.job, c.machine)).collect();
    assert_eq!(chain, vec![(1, 1), (2, 2)]);
    assert_eq!(late[0].bottleneck, Some(1));
}
