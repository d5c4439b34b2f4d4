//! The ranges a search draws from, the values of a trial, and the rules that narrow a space
//! for a finer stage and flag a best value at a border.

use rand::Rng;

use super::ValueMap;
use crate::SeededRng;
use crate::error::Error;

/// Where one hyperparameter's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// `10^u` for `u` uniform in `[log10 low, log10 high]`: learning rates, L2 strengths
    /// (`learning_rate = 10 ** uniform(-6, 1)` in the notes).
    LogUniform {
        /// The smallest value, above 0.
        low: f64,
        /// The largest value.
        high: f64,
    },
    /// Uniform in `[low, high]`: dropout's `p`, a momentum.
    Uniform {
        /// The smallest value.
        low: f64,
        /// The largest value.
        high: f64,
    },
    /// A whole number in `[low, high]`, each equally likely: a batch size, a count of epochs.
    Int {
        /// The smallest value.
        low: i64,
        /// The largest value.
        high: i64,
    },
    /// One of the options, each equally likely: a network among declared ones, an update
    /// rule.
    Choice(Vec<String>),
}

/// One drawn value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// From [`Range::LogUniform`] or [`Range::Uniform`].
    Float(f64),
    /// From [`Range::Int`].
    Int(i64),
    /// From [`Range::Choice`].
    Choice(String),
}

/// A trial's values, by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values(pub(crate) ValueMap);

impl Values {
    fn get(&self, name: &str) -> Result<&Value, Error> {
        self.0.get(name).ok_or_else(|| Error::Search {
            what: format!(
                "no hyperparameter `{name}` in the space (it has: {})",
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    fn wrong(name: &str, kind: &str) -> Error {
        Error::Search {
            what: format!("hyperparameter `{name}` read as {kind}: its range gives another kind"),
        }
    }

    /// The value of a log-uniform or uniform range.
    pub fn float(&self, name: &str) -> Result<f64, Error> {
        match self.get(name)? {
            Value::Float(v) => Ok(*v),
            _ => Err(Self::wrong(name, "a float")),
        }
    }

    /// The value of an integer range.
    pub fn int(&self, name: &str) -> Result<i64, Error> {
        match self.get(name)? {
            Value::Int(v) => Ok(*v),
            _ => Err(Self::wrong(name, "an integer")),
        }
    }

    /// The value of a choice.
    pub fn choice(&self, name: &str) -> Result<&str, Error> {
        match self.get(name)? {
            Value::Choice(v) => Ok(v),
            _ => Err(Self::wrong(name, "a choice")),
        }
    }

    /// Every value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Named ranges, in the order given.
///
/// ```
/// use constnet::search::{Range, Space};
/// let space = Space::new()
///     .log_uniform("learning_rate", 1e-6, 10.0)?
///     .uniform("dropout", 0.3, 0.9)?
///     .int("batch_size", 16, 256)?
///     .choice("net", &["small", "wide"])?;
/// assert_eq!(space.range("batch_size"), Some(&Range::Int { low: 16, high: 256 }));
/// assert!(Space::new().log_uniform("lr", 0.0, 1.0).is_err()); // log of 0
/// assert!(Space::new().uniform("p", 0.9, 0.3).is_err()); // empty
/// assert!(space.clone().int("dropout", 1, 2).is_err()); // a name twice
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Space {
    ranges: Vec<(String, Range)>,
}

impl Space {
    /// A space with no ranges.
    pub fn new() -> Self {
        Space::default()
    }

    /// Adds a log-uniform range; `0 < low < high`, both finite.
    pub fn log_uniform(self, name: &str, low: f64, high: f64) -> Result<Self, Error> {
        if !(low > 0.0 && low < high && high.is_finite()) {
            return Err(bad_range(name, "0 < low < high, both finite"));
        }
        self.with(name, Range::LogUniform { low, high })
    }

    /// Adds a uniform range; `low < high`, both finite.
    pub fn uniform(self, name: &str, low: f64, high: f64) -> Result<Self, Error> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(bad_range(name, "low < high, both finite"));
        }
        self.with(name, Range::Uniform { low, high })
    }

    /// Adds an integer range; `low <= high`.
    pub fn int(self, name: &str, low: i64, high: i64) -> Result<Self, Error> {
        if low > high {
            return Err(bad_range(name, "low <= high"));
        }
        self.with(name, Range::Int { low, high })
    }

    /// Adds a choice among `options`, at least one, none twice.
    pub fn choice(self, name: &str, options: &[&str]) -> Result<Self, Error> {
        let distinct = options
            .iter()
            .enumerate()
            .all(|(i, o)| !options[..i].contains(o));
        if options.is_empty() || !distinct {
            return Err(bad_range(name, "at least one option, none twice"));
        }
        self.with(
            name,
            Range::Choice(options.iter().map(|o| o.to_string()).collect()),
        )
    }

    fn with(mut self, name: &str, range: Range) -> Result<Self, Error> {
        if self.range(name).is_some() {
            return Err(bad_range(name, "a name not already in the space"));
        }
        self.ranges.push((name.to_string(), range));
        Ok(self)
    }

    /// The range named `name`.
    pub fn range(&self, name: &str) -> Option<&Range> {
        self.ranges.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    /// Draws one value from each range, in order.
    pub(crate) fn draw(&self, rng: &mut SeededRng) -> Values {
        let mut values = ValueMap::new();
        for (name, range) in &self.ranges {
            let value = match range {
                Range::LogUniform { low, high } => {
                    let u: f64 = rng.random();
                    let (a, b) = (low.log10(), high.log10());
                    Value::Float(10f64.powf(a + u * (b - a)).clamp(*low, *high))
                }
                Range::Uniform { low, high } => {
                    let u: f64 = rng.random();
                    Value::Float((low + u * (high - low)).clamp(*low, *high))
                }
                Range::Int { low, high } => Value::Int(rng.random_range(*low..=*high)),
                Range::Choice(options) => {
                    Value::Choice(options[rng.random_range(0..options.len())].clone())
                }
            };
            values.insert(name.clone(), value);
        }
        Values(values)
    }

    /// Where `value` lies in a numeric range, from 0 at `low` to 1 at `high` (in log space
    /// for a log-uniform one); `None` for a choice or a range of one value.
    fn position(range: &Range, value: &Value) -> Option<f64> {
        let (v, low, high) = match (range, value) {
            (Range::LogUniform { low, high }, Value::Float(v)) => {
                (v.log10(), low.log10(), high.log10())
            }
            (Range::Uniform { low, high }, Value::Float(v)) => (*v, *low, *high),
            (Range::Int { low, high }, Value::Int(v)) if high > low => {
                (*v as f64, *low as f64, *high as f64)
            }
            _ => return None,
        };
        Some((v - low) / (high - low))
    }

    /// The border warnings of [`Results::border_warnings`](super::Results::border_warnings).
    pub(crate) fn border_warnings(&self, best: &Values, margin: f64) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, range) in &self.ranges {
            let Some(value) = best.0.get(name) else {
                continue;
            };
            let Some(at) = Space::position(range, value) else {
                continue;
            };
            let side = if at <= margin {
                "bottom"
            } else if at >= 1.0 - margin {
                "top"
            } else {
                continue;
            };
            let percent = (margin * 100.0).round();
            warnings.push(format!(
                "best {} {value} is within {percent}% of the range's {side}: widen it",
                name.replace('_', " ")
            ));
        }
        warnings
    }

    /// The space of [`Results::narrowed`](super::Results::narrowed), around `top` (at least
    /// two value sets).
    pub(crate) fn narrowed(&self, top: &[&Values]) -> Space {
        let ranges = self
            .ranges
            .iter()
            .map(|(name, range)| {
                let values: Vec<&Value> = top.iter().filter_map(|v| v.0.get(name)).collect();
                (name.clone(), narrow(range, &values))
            })
            .collect();
        Space { ranges }
    }
}

/// One range narrowed around `values`: their span widened by half of it on each side (a
/// tenth of the old range when they are all equal), within the old range.
fn narrow(range: &Range, values: &[&Value]) -> Range {
    let floats = || {
        values.iter().filter_map(|v| match v {
            Value::Float(x) => Some(*x),
            _ => None,
        })
    };
    let around = |low: f64, high: f64, points: Vec<f64>| {
        let (min, max) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if points.is_empty() {
            return (low, high);
        }
        let span = if max > min {
            max - min
        } else {
            (high - low) / 10.0
        };
        ((min - span / 2.0).max(low), (max + span / 2.0).min(high))
    };
    match range {
        Range::LogUniform { low, high } => {
            let (a, b) = around(
                low.log10(),
                high.log10(),
                floats().map(f64::log10).collect(),
            );
            Range::LogUniform {
                low: 10f64.powf(a).max(*low),
                high: 10f64.powf(b).min(*high),
            }
        }
        Range::Uniform { low, high } => {
            let (a, b) = around(*low, *high, floats().collect());
            Range::Uniform { low: a, high: b }
        }
        Range::Int { low, high } => {
            let ints: Vec<f64> = values
                .iter()
                .filter_map(|v| match v {
                    Value::Int(x) => Some(*x as f64),
                    _ => None,
                })
                .collect();
            let (a, b) = around(*low as f64, *high as f64, ints);
            Range::Int {
                low: (a.floor() as i64).max(*low),
                high: (b.ceil() as i64).min(*high),
            }
        }
        Range::Choice(options) => {
            let used: Vec<String> = options
                .iter()
                .filter(|o| {
                    values
                        .iter()
                        .any(|v| matches!(v, Value::Choice(c) if c == *o))
                })
                .cloned()
                .collect();
            Range::Choice(if used.is_empty() {
                options.clone()
            } else {
                used
            })
        }
    }
}

fn bad_range(name: &str, expected: &str) -> Error {
    Error::Search {
        what: format!("range `{name}` must have {expected}"),
    }
}
