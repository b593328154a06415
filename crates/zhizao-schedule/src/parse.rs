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
    /// The whole model as JSON ([`Instance`]'s fields): what the platform
    /// sends, and what a planner can write by hand.
    Json,
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
    if format == Format::Json {
        return parse_json(text);
    }
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
        (Format::Jssp | Format::Fjsp, [j, m]) => (*j, *m),
        _ => {
            return Err(err(
                first_no,
                match format {
                    Format::Fjsp => "the first line must be `jobs machines [flexibility]`",
                    _ => "the first line must be `jobs machines`",
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
            Format::Jssp | Format::Json => jssp_job(no, &v, machines)?,
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
    Ok(Instance::job_shop(machines, out))
}

/// A JSON instance, read and then validated; either kind of fault names
/// its line (for a model fault, the line where the faulty part begins).
fn parse_json(text: &str) -> Result<Instance, ParseError> {
    let inst: Instance = serde_json::from_str(text).map_err(|e| err(e.line(), e.to_string()))?;
    inst.validate()
        .map_err(|e| err(json_line(text, &e.path), e.to_string()))?;
    Ok(inst)
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The 1-based line where the value at `path` (`jobs[2].modes`) begins in
/// well-formed JSON text, or where the longest part of the path found
/// does; 0 when not even the first step is there.
pub(crate) fn json_line(text: &str, path: &str) -> usize {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                steps.push(Step::Key(&rest[..i]));
            }
            rest = &rest[i..];
            while let Some(close) = rest.find(']') {
                if let Ok(k) = rest[1..close].parse() {
                    steps.push(Step::Index(k));
                }
                rest = &rest[close + 1..];
            }
        } else if !rest.is_empty() {
            steps.push(Step::Key(rest));
        }
    }
    let b = text.as_bytes();
    let mut found = None;
    let mut at = skip_ws(b, 0);
    for step in &steps {
        match find_child(b, at, step) {
            Some(child) => {
                at = child;
                found = Some(child);
            }
            None => break,
        }
    }
    found.map_or(0, |o| 1 + b[..o].iter().filter(|&&c| c == b'\n').count())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of the string that starts at `i` (after its closing quote).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_value(b: &[u8], i: usize) -> usize {
    let mut i = skip_ws(b, i);
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace()
            {
                i += 1;
            }
            i
        }
    }
}

/// Where the child `step` of the container at `i` begins.
fn find_child(b: &[u8], i: usize, step: &Step) -> Option<usize> {
    let open = *b.get(i)?;
    let mut i = skip_ws(b, i + 1);
    let mut index = 0;
    loop {
        if matches!(b.get(i), Some(b'}' | b']') | None) {
            return None;
        }
        let mut hit = false;
        match (open, step) {
            (b'{', Step::Key(k)) => {
                let end = skip_string(b, i);
                hit = b.get(i + 1..end.saturating_sub(1)) == Some(k.as_bytes());
                i = skip_ws(b, end);
                i = skip_ws(b, i + 1); // the colon
            }
            (b'{', Step::Index(_)) => {
                let end = skip_string(b, i);
                i = skip_ws(b, skip_ws(b, end) + 1);
            }
            (_, Step::Index(k)) => hit = index == *k,
            _ => {}
        }
        if hit {
            return Some(i);
        }
        i = skip_ws(b, skip_value(b, i));
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        index += 1;
    }
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
        .map(|p| Ok(Operation::on(vec![mode(no, p[0], p[1], machines, 0)?])))
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
        ops.push(Operation::on(modes));
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
        assert_eq!(j.jobs[1].operations[0].modes, vec![(1, 4)]);
        let f = parse("2 3 1.5\n2 1 1 5 2 2 4 3 6\n1 1 3 2\n", Format::Fjsp);
        let f = f.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.jobs[0].operations[1].modes, vec![(1, 4), (2, 6)]);
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
