//! Properties the charts must keep for any data: limits move with a
//! shift and scale with a scaling of the data, and every run rule fires on
//! a pattern built for it but not on the pattern's near miss.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use zhizao_spc::{
    Overrides, Phase, RuleSet, Spread, Standard, evaluate, individuals_chart, subgroup_chart,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

fn subgroups() -> impl Strategy<Value = Vec<Vec<f64>>> {
    (2usize..9, 2usize..30).prop_flat_map(|(n, m)| {
        prop::collection::vec(prop::collection::vec(-100.0f64..100.0, n), m)
    })
}

fn fires(rule: u8, z: &[f64]) -> bool {
    evaluate(RuleSet::Nelson, &[rule], z, z)
        .iter()
        .any(|s| s.rule == rule)
}

proptest! {
    #[test]
    fn xbar_limits_shift_with_the_data(groups in subgroups(), c in -1e3f64..1e3, s in prop::bool::ANY) {
        let spread = if s { Spread::Range } else { Spread::StdDev };
        let std = Standard::Estimated(Phase::default());
        let a = subgroup_chart(&groups, spread, 3.0, &std, &Overrides::default()).unwrap();
        let shifted: Vec<Vec<f64>> = groups.iter().map(|g| g.iter().map(|v| v + c).collect()).collect();
        let b = subgroup_chart(&shifted, spread, 3.0, &std, &Overrides::default()).unwrap();
        prop_assert!(close(b.location.center, a.location.center + c));
        prop_assert!(close(b.location.ucl, a.location.ucl + c));
        prop_assert!(close(b.location.lcl, a.location.lcl + c));
        prop_assert!(close(b.spread.ucl, a.spread.ucl));
        prop_assert!(close(b.spread.center, a.spread.center));
    }

    #[test]
    fn xbar_limits_scale_with_the_data(groups in subgroups(), k in 0.01f64..100.0) {
        let std = Standard::Estimated(Phase::default());
        let a = subgroup_chart(&groups, Spread::Range, 3.0, &std, &Overrides::default()).unwrap();
        let scaled: Vec<Vec<f64>> = groups.iter().map(|g| g.iter().map(|v| v * k).collect()).collect();
        let b = subgroup_chart(&scaled, Spread::Range, 3.0, &std, &Overrides::default()).unwrap();
        prop_assert!(close(b.location.ucl, a.location.ucl * k));
        prop_assert!(close(b.location.lcl, a.location.lcl * k));
        prop_assert!(close(b.spread.ucl, a.spread.ucl * k));
        prop_assert!(close(b.sigma, a.sigma * k));
        prop_assert_eq!(a.location_beyond, b.location_beyond);
    }

    #[test]
    fn individuals_limits_shift_and_scale(values in prop::collection::vec(-50.0f64..50.0, 2..60), c in -1e3f64..1e3, k in 0.01f64..100.0) {
        let std = Standard::Estimated(Phase::default());
        let a = individuals_chart(&values, 2, 3.0, &std, &Overrides::default()).unwrap();
        let moved: Vec<f64> = values.iter().map(|v| v * k + c).collect();
        let b = individuals_chart(&moved, 2, 3.0, &std, &Overrides::default()).unwrap();
        prop_assert!(close(b.individuals.ucl, a.individuals.ucl * k + c));
        prop_assert!(close(b.individuals.lcl, a.individuals.lcl * k + c));
        prop_assert!(close(b.moving_range.ucl, a.moving_range.ucl * k));
    }

    #[test]
    fn test_1_one_point_beyond_three_sigma(z in 3.01f64..8.0, neg in prop::bool::ANY, near in 2.0f64..2.99) {
        let sign = if neg { -1.0 } else { 1.0 };
        prop_assert!(fires(1, &[0.3, -0.2, sign * z, 0.1]));
        prop_assert!(!fires(1, &[0.3, -0.2, sign * near, 0.1]));
    }

    #[test]
    fn test_2_nine_on_one_side(run in prop::collection::vec(0.05f64..2.9, 9), neg in prop::bool::ANY) {
        let sign = if neg { -1.0 } else { 1.0 };
        let z: Vec<f64> = run.iter().map(|v| v * sign).collect();
        prop_assert!(fires(2, &z));
        let mut near = z.clone();
        near[4] = -near[4];
        prop_assert!(!fires(2, &near));
    }

    #[test]
    fn test_3_six_in_a_row_trending(mut run in prop::collection::vec(-2.9f64..2.9, 6), down in prop::bool::ANY) {
        run.sort_by(f64::total_cmp);
        run.dedup();
        prop_assume!(run.len() == 6);
        if down { run.reverse(); }
        prop_assert!(fires(3, &run));
        let mut near = run.clone();
        near.swap(2, 3);
        prop_assert!(!fires(3, &near));
    }

    #[test]
    fn test_4_fourteen_alternating(steps in prop::collection::vec(0.05f64..1.0, 14), up_first in prop::bool::ANY, broken in 1usize..13) {
        let mut z = Vec::new();
        let mut up = up_first;
        for s in &steps {
            z.push(if up { *s } else { -*s });
            up = !up;
        }
        prop_assert!(fires(4, &z));
        let mut near = z.clone();
        // Give one point the sign of its predecessor, at a level between
        // its neighbours, so the zig-zag breaks there.
        near[broken] = (near[broken - 1] + near[broken + 1]) / 2.0;
        prop_assert!(!fires(4, &near));
    }

    #[test]
    fn test_5_two_of_three_beyond_two(a in 2.01f64..2.99, b in 2.01f64..2.99, mid in -0.9f64..0.9, neg in prop::bool::ANY) {
        let s = if neg { -1.0 } else { 1.0 };
        prop_assert!(fires(5, &[s * a, mid, s * b]));
        prop_assert!(!fires(5, &[s * a, mid, -s * b]));
        prop_assert!(!fires(5, &[s * a, mid, s * 1.99]));
    }

    #[test]
    fn test_6_four_of_five_beyond_one(run in prop::collection::vec(1.01f64..2.9, 4), odd in -0.9f64..0.9, at in 0usize..5, neg in prop::bool::ANY) {
        let s = if neg { -1.0 } else { 1.0 };
        let mut z: Vec<f64> = run.iter().map(|v| v * s).collect();
        z.insert(at, odd);
        prop_assert!(fires(6, &z));
        let mut near = z.clone();
        let victim = if at == 0 { 1 } else { 0 };
        near[victim] = 0.5 * s;
        prop_assert!(!fires(6, &near));
    }

    #[test]
    fn test_7_fifteen_hugging_the_centre(run in prop::collection::vec(-0.99f64..0.99, 15), at in 0usize..15) {
        prop_assert!(fires(7, &run));
        let mut near = run.clone();
        near[at] = 1.2;
        prop_assert!(!fires(7, &near));
    }

    #[test]
    fn test_8_eight_avoiding_zone_c(run in prop::collection::vec((1.01f64..2.9, prop::bool::ANY), 8), at in 0usize..8) {
        let z: Vec<f64> = run.iter().map(|(v, n)| if *n { -v } else { *v }).collect();
        prop_assert!(fires(8, &z));
        let mut near = z.clone();
        near[at] = 0.4;
        prop_assert!(!fires(8, &near));
    }
}
