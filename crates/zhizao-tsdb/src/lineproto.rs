//! InfluxDB line protocol, so Telegraf and InfluxDB 1.x clients can write
//! unchanged:
//!
//! ```text
//! measurement[,tag=value…] field=value[,field=value…] [timestamp]
//! ```
//!
//! Each bad line is reported with its number and the reason; the good lines
//! of the same body are kept.

use std::sync::Arc;

use crate::model::{Point, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Ns,
    Us,
    Ms,
    S,
}

impl Precision {
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "ns" | "n" => Precision::Ns,
            "us" | "u" => Precision::Us,
            "ms" => Precision::Ms,
            "s" => Precision::S,
            _ => return None,
        })
    }

    fn factor(self) -> i64 {
        match self {
            Precision::Ns => 1,
            Precision::Us => 1_000,
            Precision::Ms => 1_000_000,
            Precision::S => 1_000_000_000,
        }
    }
}

/// A rejected line: 1-based line number and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The parsed body: points with the number of the line each came from, and
/// the lines that were rejected.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub points: Vec<(usize, Point)>,
    pub errors: Vec<LineError>,
    /// Lines that produced points.
    pub good_lines: usize,
}

/// Parses a whole body. `now_ns` stamps lines without a timestamp.
pub fn parse(body: &str, precision: Precision, now_ns: i64) -> Parsed {
    let mut out = Parsed::default();
    let mut names = Names::default();
    for (i, raw) in body.split('\n').enumerate() {
        let line = raw.trim_end_matches('\r').trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line, precision, now_ns, &mut names) {
            Ok(points) => {
                out.good_lines += 1;
                out.points.extend(points.into_iter().map(|p| (i + 1, p)));
            }
            Err(message) => out.errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    out
}

/// Field names seen in one body, shared by its points.
#[derive(Default)]
struct Names {
    seen: Vec<Arc<str>>,
}

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.seen.iter().find(|n| &***n == name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        // Bounded: a body with thousands of distinct names just allocates.
        if self.seen.len() < 64 {
            self.seen.push(n.clone());
        }
        n
    }
}

/// Splits at unescaped `sep` outside double quotes (when `quotes`).
/// Works on bytes: separators, quotes and backslashes are ASCII, and no
/// byte of a multi-byte UTF-8 character is ASCII, so every cut falls on a
/// character boundary.
fn split_unescaped(s: &str, sep: u8, quotes: bool) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut in_quotes = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' if quotes => in_quotes = !in_quotes,
            c if c == sep && !in_quotes => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// Removes backslash escapes of the given characters.
fn unescape(s: &str, chars: &[char]) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\'
            && let Some(&n) = it.peek()
            && chars.contains(&n)
        {
            out.push(n);
            it.next();
            continue;
        }
        out.push(c);
    }
    out
}

fn parse_line(
    line: &str,
    precision: Precision,
    now_ns: i64,
    names: &mut Names,
) -> Result<Vec<Point>, String> {
    let sections = split_unescaped(line, b' ', true);
    let sections: Vec<&str> = sections.into_iter().filter(|s| !s.is_empty()).collect();
    let (key, fields, ts) = match sections.as_slice() {
        [k, f] => (*k, *f, None),
        [k, f, t] => (*k, *f, Some(*t)),
        [_] => return Err("no fields: expected `measurement field=value`".into()),
        _ => {
            return Err(
                "too many space-separated parts (escape spaces in names with `\\ `)".into(),
            );
        }
    };

    let mut key_parts = split_unescaped(key, b',', false).into_iter();
    let measurement = unescape(key_parts.next().unwrap_or(""), &[',', ' ']);
    if measurement.is_empty() {
        return Err("measurement name is empty".into());
    }
    let mut tags = Vec::new();
    for t in key_parts {
        let kv = split_unescaped(t, b'=', false);
        let [k, v] = kv.as_slice() else {
            return Err(format!("tag `{t}` is not key=value"));
        };
        let (k, v) = (unescape(k, &[',', '=', ' ']), unescape(v, &[',', '=', ' ']));
        if k.is_empty() || v.is_empty() {
            return Err(format!("tag `{t}` has an empty key or value"));
        }
        tags.push((k, v));
    }

    let measurement: Arc<str> = Arc::from(measurement);
    let tags = Arc::new(tags);
    let ts = match ts {
        None => now_ns,
        Some(t) => {
            let n: i64 = t
                .parse()
                .map_err(|_| format!("timestamp `{t}` is not an integer"))?;
            n.checked_mul(precision.factor())
                .ok_or_else(|| format!("timestamp `{t}` is out of range for precision"))?
        }
    };

    let mut points = Vec::new();
    for f in split_unescaped(fields, b',', true) {
        let kv = split_unescaped(f, b'=', true);
        let (k, v) = match kv.as_slice() {
            [k, v] => (*k, *v),
            _ => return Err(format!("field `{f}` is not key=value")),
        };
        let field = if k.contains('\\') {
            Arc::from(unescape(k, &[',', '=', ' ']))
        } else {
            names.get(k)
        };
        if field.is_empty() {
            return Err(format!("field `{f}` has an empty name"));
        }
        let value = parse_value(v).map_err(|e| format!("field `{field}`: {e}"))?;
        points.push(Point {
            measurement: measurement.clone(),
            tags: tags.clone(),
            field,
            ts,
            value,
        });
    }
    Ok(points)
}

fn parse_value(v: &str) -> Result<Value, String> {
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("string value has no closing quote")?;
        return Ok(Value::Str(unescape(inner, &['"', '\\'])));
    }
    match v {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(int) = v.strip_suffix('i') {
        return int
            .parse::<i64>()
            .map(Value::I64)
            .map_err(|_| format!("`{v}` is not a 64-bit integer"));
    }
    if let Some(uint) = v.strip_suffix('u') {
        let n: u64 = uint
            .parse()
            .map_err(|_| format!("`{v}` is not an unsigned integer"))?;
        return i64::try_from(n)
            .map(Value::I64)
            .map_err(|_| format!("`{v}` is larger than the largest stored integer"));
    }
    // Only plain decimal notation; Rust would also accept "inf" and "NaN".
    if !v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        || v.is_empty()
    {
        return Err(format!("`{v}` is not a number, boolean or quoted string"));
    }
    let x: f64 = v.parse().map_err(|_| format!("`{v}` is not a number"))?;
    if !x.is_finite() {
        return Err(format!("`{v}` is out of range"));
    }
    Ok(Value::F64(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Vec<Point>, String> {
        parse_line(line, Precision::Ns, 7, &mut Names::default())
    }

    #[test]
    fn parses_the_usual_shapes() {
        let p = one("telemetry,site=STEEL,equipment=CUT-01 temp=61.5,count=1042i,ok=t,mode=\"auto run\" 1700000000000000000").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(&*p[0].measurement, "telemetry");
        assert!(
            std::sync::Arc::ptr_eq(&p[0].tags, &p[3].tags),
            "fields of a line share tags"
        );
        assert_eq!(
            *p[0].tags,
            vec![
                ("site".into(), "STEEL".into()),
                ("equipment".into(), "CUT-01".into())
            ]
        );
        assert_eq!(p[0].value, Value::F64(61.5));
        assert_eq!(p[1].value, Value::I64(1042));
        assert_eq!(p[2].value, Value::Bool(true));
        assert_eq!(p[3].value, Value::Str("auto run".into()));
        assert_eq!(p[3].ts, 1_700_000_000_000_000_000);
    }

    #[test]
    fn escapes_and_defaults() {
        let p = one(r#"my\ meas,tag\,k=v\=1 f\ x="say \"hi\" \\ ok""#).unwrap();
        assert_eq!(&*p[0].measurement, "my meas");
        assert_eq!(*p[0].tags, vec![("tag,k".into(), "v=1".into())]);
        assert_eq!(&*p[0].field, "f x");
        assert_eq!(p[0].value, Value::Str(r#"say "hi" \ ok"#.into()));
        assert_eq!(p[0].ts, 7, "no timestamp: now");
    }

    #[test]
    fn precision_scales_and_overflow_is_caught() {
        let p = parse_line("m v=1 1700000000", Precision::S, 0, &mut Names::default()).unwrap();
        assert_eq!(p[0].ts, 1_700_000_000_000_000_000);
        assert!(
            parse_line("m v=1 99999999999", Precision::S, 0, &mut Names::default())
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn bad_lines_are_named_and_good_ones_kept() {
        let body = "m v=1 1\nm v=NaN 2\n\n# comment\nm v=1i,w=x 3\nm\nm v=2 4\nm v=\"open 5\nm v=1 abc\nm,t v=1\nm v=inf\nm v=99999999999999999999i";
        let parsed = parse(body, Precision::Ns, 0);
        assert_eq!(parsed.good_lines, 2);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 5, 6, 8, 9, 10, 11, 12]);
        assert!(
            parsed.errors[0].message.contains("field `v`"),
            "{}",
            parsed.errors[0]
        );
        assert!(
            parsed.errors[4].message.contains("timestamp"),
            "{}",
            parsed.errors[4]
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Escapes a tag or field name the way a writer must: `,`, `=` and
    /// space (a measurement escapes only `,` and space).
    fn escape(s: &str) -> String {
        escape_only(s, &[',', '=', ' '])
    }

    fn escape_only(s: &str, special: &[char]) -> String {
        let mut out = String::new();
        for c in s.chars() {
            if special.contains(&c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    fn name() -> impl Strategy<Value = String> {
        // Letters, the characters that need escaping, and some Chinese.
        "[a-z温度设备,= ]{1,8}".prop_filter("no edge spaces or backslashes", |s| {
            !s.starts_with(' ') && !s.ends_with('\\')
        })
    }

    proptest! {
        #[test]
        fn escaped_names_and_values_round_trip(
            measurement in name(),
            tags in prop::collection::btree_map(name(), name(), 0..4),
            fields in prop::collection::btree_map(name(), any::<i32>(), 1..5),
            text in "[a-z 中文,=]{0,10}",
            ts in any::<i64>(),
        ) {
            let mut line = escape_only(&measurement, &[',', ' ']);
            for (k, v) in &tags {
                line.push_str(&format!(",{}={}", escape(k), escape(v)));
            }
            let fields_text: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={v}i", escape(k)))
                .collect();
            line.push_str(&format!(" {},note=\"{text}\" {ts}", fields_text.join(",")));
            let parsed = parse(&line, Precision::Ns, 0);
            prop_assert!(parsed.errors.is_empty(), "{line}: {:?}", parsed.errors);
            let points: Vec<Point> = parsed.points.into_iter().map(|(_, p)| p).collect();
            prop_assert_eq!(points.len(), fields.len() + 1);
            for (p, (k, v)) in points.iter().zip(&fields) {
                prop_assert_eq!(&*p.measurement, measurement.as_str());
                prop_assert_eq!(&*p.field, k.as_str());
                prop_assert_eq!(&p.value, &Value::I64(i64::from(*v)));
                prop_assert_eq!(p.ts, ts);
                let want: Vec<(String, String)> = tags.clone().into_iter().collect();
                prop_assert_eq!(&*p.tags, &want);
            }
            prop_assert_eq!(&points[fields.len()].value, &Value::Str(text));
        }

        #[test]
        fn any_text_is_parsed_or_rejected_without_panicking(body in "\\PC{0,200}") {
            let parsed = parse(&body, Precision::Ms, 0);
            for e in &parsed.errors {
                prop_assert!(e.line >= 1 && !e.message.is_empty());
            }
        }
    }
}
