//! A machine's working time as the complement of its downtime: where an
//! operation that must run in one stretch fits, and where one that may
//! pause ends.

/// Downtime as sorted, disjoint, non-empty `[from, to)` intervals.
#[derive(Debug, Clone, Default)]
pub(crate) struct Calendar {
    down: Vec<(u64, u64)>,
}

impl Calendar {
    pub(crate) fn new(intervals: &[(u64, u64)]) -> Self {
        let mut v: Vec<(u64, u64)> = intervals.iter().copied().filter(|(a, b)| a < b).collect();
        v.sort_unstable();
        let mut down: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match down.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => down.push((a, b)),
            }
        }
        Calendar { down }
    }

    /// The first downtime interval that ends after `t`.
    fn from(&self, t: u64) -> usize {
        self.down.partition_point(|&(_, b)| b <= t)
    }

    /// The first working instant at or after `t`.
    pub(crate) fn next_working(&self, t: u64) -> u64 {
        match self.down.get(self.from(t)) {
            Some(&(a, b)) if a <= t => b,
            _ => t,
        }
    }

    /// Start and end of `work` units done from `t` on, pausing over
    /// downtime. No work takes no time, wherever it falls.
    pub(crate) fn run_split(&self, t: u64, work: u64) -> (u64, u64) {
        if work == 0 {
            return (t, t);
        }
        let start = self.next_working(t);
        let (mut at, mut left) = (start, work);
        for &(a, b) in &self.down[self.from(start)..] {
            if at + left <= a {
                break;
            }
            left -= a - at;
            at = b;
        }
        (start, at + left)
    }

    /// The earliest stretch of `work` units without downtime from `t` on.
    pub(crate) fn run_whole(&self, t: u64, work: u64) -> (u64, u64) {
        if work == 0 {
            return (t, t);
        }
        let mut at = self.next_working(t);
        for &(a, b) in &self.down[self.from(at)..] {
            if at + work <= a {
                break;
            }
            at = b;
        }
        (at, at + work)
    }

    /// The latest start from which `work` units of working time end by
    /// `end` (pausing over downtime).
    pub(crate) fn back_split(&self, end: u64, work: u64) -> u64 {
        if work == 0 {
            return end;
        }
        let (mut at, mut left) = (end, work);
        let k = self.down.partition_point(|&(a, _)| a < end);
        for &(a, b) in self.down[..k].iter().rev() {
            let b = b.min(at);
            if at - b >= left {
                return at - left;
            }
            left -= at - b;
            at = a;
        }
        at.saturating_sub(left)
    }

    pub(crate) fn run(&self, t: u64, work: u64, splittable: bool) -> (u64, u64) {
        if splittable {
            self.run_split(t, work)
        } else {
            self.run_whole(t, work)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_wait_for_working_time_or_pause_over_downtime() {
        // Off 10–20 and 25–30 (given out of order and overlapping).
        let c = Calendar::new(&[(25, 30), (10, 15), (14, 20), (40, 40)]);
        assert_eq!(c.down, vec![(10, 20), (25, 30)]);
        assert_eq!(c.next_working(12), 20);
        assert_eq!(c.next_working(20), 20);
        assert_eq!(c.run_whole(5, 5), (5, 10));
        assert_eq!(c.run_whole(5, 6), (30, 36));
        assert_eq!(c.run_whole(12, 5), (20, 25));
        assert_eq!(c.run_split(5, 6), (5, 21));
        assert_eq!(c.run_split(5, 12), (5, 32));
        assert_eq!(c.run_split(12, 3), (20, 23));
        assert_eq!(c.run_split(12, 0), (12, 12));
        assert_eq!(Calendar::new(&[]).run_whole(7, 3), (7, 10));
        // Backwards: 3 before 20 ends in downtime, so 7–10; 12 before 32.
        assert_eq!(c.back_split(20, 3), 7);
        assert_eq!(c.back_split(32, 12), 5);
        assert_eq!(c.back_split(9, 4), 5);
        assert_eq!(c.back_split(3, 5), 0);
    }
}
