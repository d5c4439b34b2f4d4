//! A search's results file: one JSON object per finished trial, one per line.
//!
//! ```text
//! {"trial":3,"seed":1234,"seconds":1.25,"metric":0.97,"values":{"lr":{"float":0.001},"net":{"choice":"wide"}}}
//! {"trial":4,"seed":5678,"seconds":0.5,"error":"step 12: ...","values":{...}}
//! ```
//!
//! Values carry their kind, so a file reads back to exactly the values drawn. The reader
//! takes JSON as written by this module or by hand (any key order, whitespace, escapes); a
//! last line without its newline (a process killed while writing it) is skipped, and any
//! other line that is not such an object is an error naming the line.

use std::path::Path;

use super::space::{Value, Values};
use super::{Outcome, ValueMap};
use crate::error::Error;

/// The line for `outcome`, with its newline.
pub(super) fn line(outcome: &Outcome) -> String {
    let values: Vec<String> = outcome
        .values
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Float(v) => format!("{{\"float\":{v:?}}}"),
                Value::Int(v) => format!("{{\"int\":{v}}}"),
                Value::Choice(v) => format!("{{\"choice\":{}}}", quote(v)),
            };
            format!("{}:{value}", quote(name))
        })
        .collect();
    let result = match &outcome.metric {
        Ok(m) => format!("\"metric\":{m:?}"),
        Err(e) => format!("\"error\":{}", quote(e)),
    };
    format!(
        "{{\"trial\":{},\"seed\":{},\"seconds\":{:?},{result},\"values\":{{{}}}}}\n",
        outcome.index,
        outcome.seed,
        outcome.seconds,
        values.join(",")
    )
}

/// Reads every complete line of `path`.
pub(super) fn read(path: &Path) -> Result<Vec<Outcome>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut outcomes = Vec::new();
    for (number, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let outcome = parse(line).map_err(|found| Error::Data {
            path: format!("{}:{}", path.display(), number + 1),
            expected: "a trial's result as one JSON object".into(),
            found,
        })?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Cuts a last line without its newline (a process killed while writing it) off `path`, so
/// that the next line appended starts a line of its own.
pub(super) fn drop_partial_tail(path: &Path) -> Result<(), Error> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    let whole = text
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |end| end + 1);
    if whole < text.len() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(whole as u64))
            .map_err(|e| Error::io(path, &e))?;
    }
    Ok(())
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A parsed JSON value (what a results line can hold).
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text, so that integers keep every digit.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn field(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn number<N: std::str::FromStr>(&self) -> Option<N> {
        match self {
            Json::Number(text) => text.parse().ok(),
            _ => None,
        }
    }
}

fn parse(line: &str) -> Result<Outcome, String> {
    let mut parser = Parser {
        bytes: line.as_bytes(),
        at: 0,
    };
    let json = parser.value(0)?;
    parser.space();
    if parser.at != parser.bytes.len() {
        return Err(format!("text after the object at byte {}", parser.at));
    }
    let number = |key: &str| -> Result<&Json, String> {
        json.field(key).ok_or_else(|| format!("no \"{key}\""))
    };
    let index = number("trial")?
        .number()
        .ok_or("\"trial\" is not a whole number")?;
    let seed = number("seed")?
        .number()
        .ok_or("\"seed\" is not a whole number")?;
    let seconds = number("seconds")?
        .number()
        .ok_or("\"seconds\" is not a number")?;
    let metric = match (json.field("metric"), json.field("error")) {
        (Some(m), None) => {
            let m: f64 = m.number().ok_or("\"metric\" is not a number")?;
            if !m.is_finite() {
                return Err("\"metric\" is not finite".into());
            }
            Ok(m)
        }
        (None, Some(Json::String(e))) => Err(e.clone()),
        _ => return Err("one of \"metric\" (a number) or \"error\" (a string)".into()),
    };
    let Some(Json::Object(fields)) = json.field("values") else {
        return Err("no \"values\" object".into());
    };
    let mut values = ValueMap::new();
    for (name, value) in fields {
        let value = match value {
            Json::Object(kind) if kind.len() == 1 => match (&kind[0].0[..], &kind[0].1) {
                ("float", v) => Value::Float(v.number().ok_or("a float value is not a number")?),
                ("int", v) => Value::Int(v.number().ok_or("an int value is not whole")?),
                ("choice", Json::String(s)) => Value::Choice(s.clone()),
                _ => return Err(format!("value \"{name}\" is not a float, int or choice")),
            },
            _ => return Err(format!("value \"{name}\" is not {{\"kind\": value}}")),
        };
        values.insert(name.clone(), value);
    }
    Ok(Outcome {
        index,
        seed,
        values: Values(values),
        metric,
        seconds,
        resumed: true,
    })
}

/// A recursive-descent JSON parser over one line, nesting at most 16 deep.
struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), String> {
        self.space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", byte as char, self.at))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 16 {
            return Err("nesting deeper than 16".into());
        }
        self.space();
        match self.bytes.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.space();
                    let key = self.string()?;
                    self.eat(b':')?;
                    fields.push((key, self.value(depth + 1)?));
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Object(fields));
                        }
                        _ => return Err(format!("expected `,` or `}}` at byte {}", self.at)),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(format!("expected `,` or `]` at byte {}", self.at)),
                    }
                }
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| b"+-.eE0123456789".contains(b))
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or("");
                if text.parse::<f64>().is_err() {
                    return Err(format!("`{text}` is not a number"));
                }
                Ok(Json::Number(text.to_string()))
            }
            _ => Err(format!("expected a value at byte {}", self.at)),
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(format!("expected `{word}` at byte {}", self.at))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.bytes.get(self.at) != Some(&b'"') {
            return Err(format!("expected a string at byte {}", self.at));
        }
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err("a string without its closing quote".into());
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.bytes.get(self.at) else {
                        return Err("a string cut after `\\`".into());
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .bytes
                                .get(self.at..self.at + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or("a bad `\\u` escape")?;
                            self.at += 4;
                            let c = char::from_u32(hex).unwrap_or(char::REPLACEMENT_CHARACTER);
                            out.extend_from_slice(c.to_string().as_bytes());
                        }
                        _ => return Err(format!("a bad escape `\\{}`", e as char)),
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| "a string that is not UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(metric: Result<f64, String>) -> Outcome {
        let mut values = ValueMap::new();
        values.insert("learning_rate".into(), Value::Float(1.2345678901234e-4));
        values.insert("batch".into(), Value::Int(-64));
        values.insert("net".into(), Value::Choice("wide \"x\"\n\\é".into()));
        Outcome {
            index: 17,
            seed: u64::MAX,
            values: Values(values),
            metric,
            seconds: 0.125,
            resumed: true,
        }
    }

    #[test]
    fn a_line_reads_back_to_the_same_outcome() {
        for metric in [Ok(0.975), Err("step 3: \"fc1.weight\" is NaN".to_string())] {
            let o = outcome(metric);
            let line = line(&o);
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
            assert_eq!(parse(line.trim_end()).unwrap(), o);
        }
    }

    #[test]
    fn hand_written_json_reads_and_malformed_lines_say_why() {
        let text = r#" { "values" : { "p" : { "float" : 5E-1 } } , "metric": 1, "seconds": 2, "seed": 3, "trial": 4 } "#;
        let o = parse(text).unwrap();
        assert_eq!((o.index, o.seed, o.metric, o.seconds), (4, 3, Ok(1.0), 2.0));
        assert_eq!(o.values.float("p").unwrap(), 0.5);
        for (bad, why) in [
            ("", "expected a value"),
            ("{\"trial\":1}", "no \"seed\""),
            (
                "{\"trial\":-1,\"seed\":1,\"seconds\":1,\"metric\":1,\"values\":{}}",
                "whole",
            ),
            (
                "{\"trial\":1,\"seed\":1,\"seconds\":1,\"values\":{}}",
                "one of",
            ),
            (
                "{\"trial\":1,\"seed\":1,\"seconds\":1,\"metric\":1,\"values\":{\"a\":{\"x\":1}}}",
                "not a float",
            ),
            ("{\"a\":\"\\q\"}", "bad escape"),
            ("{\"a\":1} x", "text after"),
            (&"[".repeat(100), "deeper"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
