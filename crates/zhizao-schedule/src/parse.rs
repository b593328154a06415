//! The benchmark formats. `jssp`: a line `jobs machines`, then per job its
//! operations as `machine duration` pairs (machines 0-based). `fjsp`
//! (Brandimarte): a line `jobs machines [flexibility]`, then per job the
//! number of operations and for each the number of eligible machines and
//! that many `machine duration` pairs (machines 1-based). A bad file is
//! refused with the line and what is wrong.

use crate::model::{Instance, Operation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jssp,
    Fjsp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based; 0 when the file as a whole is wrong.
    pub line: usize,
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// The numbers of a line, or what is not a number.
fn numbers(line_no: usize, line: &str) -> Result<Vec<i64>, ParseError> {
    line.split_whitespace()
        .map(|w| {
            w.parse::<i64>()
                .map_err(|_| err(line_no, format!("`{w}` is not a whole number")))
        })
        .collect()
}

pub fn parse(text: &str, format: Format) -> Result<Instance, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let (first_no, first) = lines.next().ok_or_else(|| err(0, "the file is empty"))?;
    // Brandimarte's third number, the mean flexibility, may be a decimal.
    let words: Vec<&str> = first.split_whitespace().collect();
    let head = match (format, words.as_slice()) {
        (Format::Fjsp, [j, m, f]) => {
            f.parse::<f64>()
                .map_err(|_| err(first_no, format!("`{f}` is not a number")))?;
            numbers(first_no, &format!("{j} {m}"))?
        }
        _ => numbers(first_no, first)?,
    };
    let (jobs, machines) = match (format, head.as_slice()) {
        (Format::Jssp, [j, m]) | (Format::Fjsp, [j, m]) => (*j, *m),
        _ => {
            return Err(err(
                first_no,
                match format {
                    Format::Jssp => "the first line must be `jobs machines`",
                    Format::Fjsp => "the first line must be `jobs machines [flexibility]`",
                },
            ));
        }
    };
    if jobs < 1 || machines < 1 {
        return Err(err(first_no, "needs at least one job and one machine"));
    }
    let (jobs, machines) = (jobs as usize, machines as usize);
    let mut out = Vec::with_capacity(jobs);
    for j in 0..jobs {
        let (no, line) = lines.next().ok_or_else(|| {
            err(
                0,
                format!("the first line announces {jobs} jobs but the file has {j}"),
            )
        })?;
        let v = numbers(no, line)?;
        let ops = match format {
            Format::Jssp => jssp_job(no, &v, machines)?,
            Format::Fjsp => fjsp_job(no, &v, machines)?,
        };
        out.push(ops);
    }
    if let Some((no, _)) = lines.next() {
        return Err(err(
            no,
            format!("more lines than the {jobs} jobs the first line announces"),
        ));
    }
    Ok(Instance {
        machines,
        jobs: out,
    })
}

fn mode(
    no: usize,
    machine: i64,
    duration: i64,
    machines: usize,
    base: i64,
) -> Result<(usize, u32), ParseError> {
    let m = machine - base;
    if m < 0 || m as usize >= machines {
        return Err(err(
            no,
            format!(
                "machine {machine} is out of range ({base} to {})",
                machines as i64 - 1 + base
            ),
        ));
    }
    if duration < 0 {
        return Err(err(no, format!("duration {duration} is negative")));
    }
    let d =
        u32::try_from(duration).map_err(|_| err(no, format!("duration {duration} is too long")))?;
    Ok((m as usize, d))
}

fn jssp_job(no: usize, v: &[i64], machines: usize) -> Result<Vec<Operation>, ParseError> {
    if v.is_empty() || !v.len().is_multiple_of(2) {
        return Err(err(
            no,
            "a job is pairs of `machine duration` (an odd count of numbers)",
        ));
    }
    v.chunks(2)
        .map(|p| {
            Ok(Operation {
                modes: vec![mode(no, p[0], p[1], machines, 0)?],
            })
        })
        .collect()
}

fn fjsp_job(no: usize, v: &[i64], machines: usize) -> Result<Vec<Operation>, ParseError> {
    let mut it = v.iter().copied();
    let count = it.next().ok_or_else(|| err(no, "an empty job line"))?;
    if count < 1 {
        return Err(err(no, format!("a job of {count} operations")));
    }
    let mut ops = Vec::with_capacity(count as usize);
    for k in 0..count {
        let n = it.next().ok_or_else(|| {
            err(
                no,
                format!("the job announces {count} operations but has {k}"),
            )
        })?;
        if n < 1 {
            return Err(err(
                no,
                format!("operation {} has no eligible machine", k + 1),
            ));
        }
        let mut modes = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (Some(m), Some(d)) = (it.next(), it.next()) else {
                return Err(err(
                    no,
                    format!(
                        "operation {} announces {n} machines but the line ends",
                        k + 1
                    ),
                ));
            };
            let md = mode(no, m, d, machines, 1)?;
            if modes.iter().any(|(x, _)| *x == md.0) {
                return Err(err(
                    no,
                    format!("operation {} lists machine {m} twice", k + 1),
                ));
            }
            modes.push(md);
        }
        ops.push(Operation { modes });
    }
    if it.next().is_some() {
        return Err(err(
            no,
            format!("numbers left after the job's {count} operations"),
        ));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_read_and_bad_lines_are_named() {
        let j = parse("2 2\n0 3 1 2\n1 4 0 1\n", Format::Jssp).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.jobs[1][0].modes, vec![(1, 4)]);
        let f = parse("2 3 1.5\n2 1 1 5 2 2 4 3 6\n1 1 3 2\n", Format::Fjsp);
        let f = f.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.jobs[0][1].modes, vec![(1, 4), (2, 6)]);
        let bad = |t: &str, fmt| parse(t, fmt).unwrap_err().to_string();
        assert_eq!(
            bad("2 2\n0 3 1 2\n1 4 2 1\n", Format::Jssp),
            "line 3: machine 2 is out of range (0 to 1)"
        );
        assert_eq!(
            bad("2 2\n0 3 1 -2\n1 4 0 1\n", Format::Jssp),
            "line 2: duration -2 is negative"
        );
        assert_eq!(
            bad("2 2\n0 3 1\n", Format::Jssp),
            "line 2: a job is pairs of `machine duration` (an odd count of numbers)"
        );
        assert_eq!(
            bad("3 2\n0 3 1 2\n1 4 0 1\n", Format::Jssp),
            "line 0: the first line announces 3 jobs but the file has 2"
        );
        assert_eq!(
            bad("1 2\n0 x\n", Format::Jssp),
            "line 2: `x` is not a whole number"
        );
        assert_eq!(
            bad("1 3\n2 1 1 5 0\n", Format::Fjsp),
            "line 2: operation 2 has no eligible machine"
        );
        assert_eq!(
            bad("1 3\n1 2 1 5\n", Format::Fjsp),
            "line 2: operation 1 announces 2 machines but the line ends"
        );
        assert_eq!(
            bad("1 3\n1 1 0 5\n", Format::Fjsp),
            "line 2: machine 0 is out of range (1 to 3)"
        );
        assert_eq!(
            bad("1 2\n0 3 1 2\n0 1\n", Format::Jssp),
            "line 3: more lines than the 1 jobs the first line announces"
        );
    }
}
