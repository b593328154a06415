//! InfluxDB line protocol, so Telegraf and InfluxDB 1.x clients can write
//! unchanged:
//!
//! ```text
//! measurement[,tag=value…] field=value[,field=value…] [timestamp]
//! ```
//!
//! Each bad line is reported with its number and the reason; the good lines
//! of the same body are kept.

use std::borrow::Cow;
use std::ops::Range;

use crate::batch::{self, WriteBatch};
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

/// The parsed body: the good lines as a batch for the store, and the lines
/// that were rejected.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub batch: WriteBatch,
    pub errors: Vec<LineError>,
    /// Lines that produced values.
    pub good_lines: usize,
}

impl Parsed {
    /// The values one by one (tags sorted by key).
    pub fn points(&self) -> Vec<Point> {
        self.batch.points()
    }
}

/// Parses a whole body. `now_ns` stamps lines without a timestamp.
pub fn parse(body: &str, precision: Precision, now_ns: i64) -> Parsed {
    let mut out = Parsed {
        batch: WriteBatch::with_body_capacity(body.len()),
        ..Parsed::default()
    };
    let mut tags = Vec::new();
    for (i, raw) in body.split('\n').enumerate() {
        let line = raw.trim_end_matches('\r').trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mark = out.batch.mark();
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match parse_line(line, number, precision, now_ns, &mut out.batch, &mut tags) {
            Ok(()) => out.good_lines += 1,
            Err(message) => {
                out.batch.rollback(mark);
                out.errors.push(LineError {
                    line: i + 1,
                    message,
                });
            }
        }
    }
    out
}

/// How a line is scanned: most lines hold no backslash and no quote, and
/// are cut with `memchr`; the others byte by byte, minding escapes and (in
/// the fields) quotes.
#[derive(Clone, Copy)]
struct Scan<'a> {
    b: &'a [u8],
    plain: bool,
}

impl Scan<'_> {
    /// Index of the first `sep` in `from..to` that is not escaped (and,
    /// with `quotes`, not inside double quotes), or `to`. Separators,
    /// quotes and backslashes are ASCII, and no byte of a multi-byte UTF-8
    /// character is ASCII, so every cut falls on a character boundary.
    fn find(self, from: usize, to: usize, sep: u8, quotes: bool) -> usize {
        let b = &self.b[..to];
        if self.plain {
            return memchr::memchr(sep, &b[from.min(to)..]).map_or(to, |i| from + i);
        }
        let mut i = from;
        let mut in_quotes = false;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 1,
                b'"' if quotes => in_quotes = !in_quotes,
                c if !in_quotes && c == sep => return i,
                _ => {}
            }
            i += 1;
        }
        to
    }
}

/// Removes backslash escapes of the given characters.
fn unescape<'a>(s: &'a str, chars: &[char]) -> Cow<'a, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
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
    Cow::Owned(out)
}

const NAME_ESCAPES: &[char] = &[',', '=', ' '];

/// Parses one line into the batch. On error the caller rolls the batch back.
fn parse_line(
    line: &str,
    number: u32,
    precision: Precision,
    now_ns: i64,
    batch: &mut WriteBatch,
    tags: &mut Vec<(Range<usize>, Range<usize>)>,
) -> Result<(), String> {
    let b = line.as_bytes();
    let n = b.len();
    let scan = Scan {
        b,
        plain: memchr::memchr2(b'\\', b'"', b).is_none(),
    };
    // Sections: key, fields, optional timestamp; runs of spaces between.
    let key_end = scan.find(0, n, b' ', false);
    let skip = |mut i: usize| {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let fields_start = skip(key_end);
    if fields_start >= n {
        return Err("no fields: expected `measurement field=value`".into());
    }
    let fields_end = scan.find(fields_start, n, b' ', true);
    let ts_start = skip(fields_end);
    let ts_end = scan.find(ts_start, n, b' ', false);
    if skip(ts_end) < n {
        return Err("too many space-separated parts (escape spaces in names with `\\ `)".into());
    }

    // Measurement and tags, written to the batch as the set's canonical key.
    let m_end = scan.find(0, key_end, b',', false);
    let measurement = unescape(&line[..m_end], &[',', ' ']);
    if measurement.is_empty() {
        return Err("measurement name is empty".into());
    }
    tags.clear();
    let mut escaped = false;
    let mut at = m_end;
    while at < key_end {
        let start = at + 1;
        let end = scan.find(start, key_end, b',', false);
        let t = &line[start..end];
        let eq = scan.find(start, end, b'=', false);
        if eq == end || scan.find(eq + 1, end, b'=', false) < end {
            return Err(format!("tag `{t}` is not key=value"));
        }
        if eq == start || eq + 1 == end {
            return Err(format!("tag `{t}` has an empty key or value"));
        }
        escaped |= t.contains('\\');
        tags.push((start..eq, eq + 1..end));
        at = end;
    }
    let key_start = batch.keys.len();
    if escaped {
        let mut owned: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| {
                (
                    unescape(&line[k.clone()], NAME_ESCAPES).into_owned(),
                    unescape(&line[v.clone()], NAME_ESCAPES).into_owned(),
                )
            })
            .collect();
        owned = batch::sorted_tags(&owned);
        batch::push_set(
            &mut batch.keys,
            &measurement,
            owned.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
    } else {
        let tag = |r: &(Range<usize>, Range<usize>)| (&line[r.0.clone()], &line[r.1.clone()]);
        if !tags.windows(2).all(|w| tag(&w[0]).0 < tag(&w[1]).0) {
            tags.sort_by(|x, y| tag(x).cmp(&tag(y)));
            tags.dedup_by(|x, y| tag(x).0 == tag(y).0);
        }
        batch::push_set(&mut batch.keys, &measurement, tags.iter().map(tag));
    }

    let ts = if ts_start >= n {
        now_ns
    } else {
        let t = &line[ts_start..ts_end];
        let n: i64 = t
            .parse()
            .map_err(|_| format!("timestamp `{t}` is not an integer"))?;
        n.checked_mul(precision.factor())
            .ok_or_else(|| format!("timestamp `{t}` is out of range for precision"))?
    };

    // Fields: key=value separated by commas; commas inside quotes are text.
    let values_start = batch.values.len();
    let mut at = fields_start;
    let mut k = 0;
    loop {
        let end = scan.find(at, fields_end, b',', true);
        let f = &line[at..end];
        let eq = scan.find(at, end, b'=', true);
        if eq == end || scan.find(eq + 1, end, b'=', true) < end {
            return Err(format!("field `{f}` is not key=value"));
        }
        let raw_name = &line[at..eq];
        let name = unescape(raw_name, NAME_ESCAPES);
        if name.is_empty() {
            return Err(format!("field `{f}` has an empty name"));
        }
        let value = parse_value(&line[eq + 1..end]).map_err(|e| format!("field `{name}`: {e}"))?;
        let name = batch.name(&name, k);
        batch.values.push((name, value));
        k += 1;
        if end >= fields_end {
            break;
        }
        at = end + 1;
    }
    batch.end_line(key_start, values_start, ts, number);
    Ok(())
}

fn parse_value(v: &str) -> Result<Value, String> {
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("string value has no closing quote")?;
        return Ok(Value::Str(unescape(inner, &['"', '\\']).into_owned()));
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

    fn one_at(line: &str, precision: Precision) -> Result<Vec<Point>, String> {
        let parsed = parse(line, precision, 7);
        match parsed.errors.first() {
            Some(e) => Err(e.message.clone()),
            None => Ok(parsed.points()),
        }
    }

    fn one(line: &str) -> Result<Vec<Point>, String> {
        one_at(line, Precision::Ns)
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
                ("equipment".into(), "CUT-01".into()),
                ("site".into(), "STEEL".into())
            ],
            "tags sorted by key"
        );
        assert_eq!(p[0].value, Value::F64(61.5));
        assert_eq!(p[1].value, Value::I64(1042));
        assert_eq!(p[2].value, Value::Bool(true));
        assert_eq!(p[3].value, Value::Str("auto run".into()));
        assert_eq!(p[3].ts, 1_700_000_000_000_000_000);
    }

    #[test]
    fn tag_order_and_repeats_do_not_make_new_sets() {
        let body = "m,b=2,a=1 x=1 1\nm,a=1,b=2 x=2 2\nm,a=1,b=2,a=0 x=3 3";
        let parsed = parse(body, Precision::Ns, 0);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let p = parsed.points();
        let sorted = vec![("a".to_string(), "1".to_string()), ("b".into(), "2".into())];
        assert_eq!(*p[0].tags, sorted);
        assert_eq!(*p[1].tags, sorted);
        assert_eq!(
            *p[2].tags,
            vec![("a".to_string(), "0".to_string()), ("b".into(), "2".into())],
            "a repeated key keeps its smallest value, as the store always has"
        );
        assert_eq!(parsed.batch.lines[0].key, parsed.batch.lines[1].key);
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
        let p = one_at("m v=1 1700000000", Precision::S).unwrap();
        assert_eq!(p[0].ts, 1_700_000_000_000_000_000);
        assert!(
            one_at("m v=1 99999999999", Precision::S)
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn bad_lines_are_named_and_good_ones_kept() {
        let body = "m v=1 1\nm v=NaN 2\n\n# comment\nm v=1i,w=x 3\nm\nm v=2 4\nm v=\"open 5\nm v=1 abc\nm,t v=1\nm v=inf\nm v=99999999999999999999i";
        let parsed = parse(body, Precision::Ns, 0);
        assert_eq!(parsed.good_lines, 2);
        assert_eq!(parsed.batch.len(), 2, "a bad line leaves nothing behind");
        let lines = parsed.batch.line_index();
        assert_eq!((lines.line_of(0), lines.line_of(1)), (1, 7));
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
            let points = parsed.points();
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
