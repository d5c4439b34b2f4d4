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
use crate::json::{self, Json, push_string};

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
    push_string(&mut out, s);
    out
}

/// Results lines nest 3 deep; a little room beyond.
const MAX_DEPTH: usize = 16;

fn parse(line: &str) -> Result<Outcome, String> {
    let json = json::parse(line, MAX_DEPTH)?;
    let field = |key: &str| -> Result<&Json, String> {
        json.field(key).ok_or_else(|| format!("no \"{key}\""))
    };
    let index = field("trial")?
        .as_usize()
        .ok_or("\"trial\" is not a whole number")?;
    let seed = field("seed")?
        .number()
        .ok_or("\"seed\" is not a whole number")?;
    let seconds = field("seconds")?
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
            ("", "expected an object"),
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
            (&"[".repeat(100), "nested too deeply"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
