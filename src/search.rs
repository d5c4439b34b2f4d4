//! Random hyperparameter search, as the notes advise: random rather than grid values, one
//! validation fold, stages from coarse to fine, and a look at whether the best values sit at
//! a range's border.
//!
//! A [`Space`] names the ranges; a [`Search`] draws each trial's values from its own seed (so
//! a trial is reproducible from its index alone, whatever ran before it or beside it), runs
//! the trials on a pool of threads (one trial per thread, each single-threaded), and appends
//! each result to a JSON-lines file as it finishes. Started again with the same file, a
//! search runs only the trials the file does not hold. `shard(k, n)` runs the trials `i` with
//! `i % n == k`, for a search split across processes or machines; [`Results::merge`] reads
//! their files together.
//!
//! ```
//! use constnet::search::{Search, Space};
//! let space = Space::new()
//!     .log_uniform("learning_rate", 1e-4, 1e-1)?
//!     .choice("width", &["narrow", "wide"])?;
//! // The objective here is a made-up score; a real one trains a network and returns its
//! // validation accuracy.
//! let results = Search::new(space, 16, 7).threads(2).maximize(|trial| {
//!     let lr = trial.float("learning_rate")?;
//!     let bonus = if trial.choice("width")? == "wide" { 0.1 } else { 0.0 };
//!     Ok(1.0 - (lr.log10() + 2.0).abs() / 10.0 + bonus)
//! })?;
//! assert_eq!(results.trials().len(), 16);
//! let best = results.best().unwrap();
//! assert_eq!(best.values.choice("width")?, "wide");
//! println!("{results}"); // the table, best first
//! # Ok::<(), constnet::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::SeededRng;
use crate::error::Error;

mod jsonl;
mod space;

pub use space::{Range, Space, Value, Values};

/// One trial to run: its index in the search, a seed for the network and the data order
/// (derived from the search's seed and the index), and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The trial's number, from 0.
    pub index: usize,
    /// A seed of its own, for `Net::new(seed)` and `Config::seed`.
    pub seed: u64,
    /// Its hyperparameter values.
    pub values: Values,
}

impl Trial {
    /// The value of float range `name`.
    pub fn float(&self, name: &str) -> Result<f64, Error> {
        self.values.float(name)
    }

    /// The value of integer range `name`.
    pub fn int(&self, name: &str) -> Result<i64, Error> {
        self.values.int(name)
    }

    /// The value of choice `name`.
    pub fn choice(&self, name: &str) -> Result<&str, Error> {
        self.values.choice(name)
    }
}

/// What became of a trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The trial's number.
    pub index: usize,
    /// Its seed.
    pub seed: u64,
    /// Its values.
    pub values: Values,
    /// The validation metric, or the error that ended the trial (a diverging learning rate,
    /// say: `NonFiniteStep`), as text.
    pub metric: Result<f64, String>,
    /// How long it ran.
    pub seconds: f64,
    /// Whether the result was read from a results file (an earlier run's) rather than run
    /// now.
    pub resumed: bool,
}

/// Whether a higher metric is better (accuracy) or a lower one (loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Higher is better.
    Maximize,
    /// Lower is better.
    Minimize,
}

/// A random search over a [`Space`]: how many trials, the seed they derive from, the threads,
/// the results file and the shard.
#[derive(Debug, Clone)]
pub struct Search {
    space: Space,
    trials: usize,
    seed: u64,
    threads: usize,
    results: Option<PathBuf>,
    shard: (usize, usize),
}

impl Search {
    /// `trials` trials over `space`, their values and seeds derived from `seed`, on as many
    /// threads as the machine has cores, with no results file.
    pub fn new(space: Space, trials: usize, seed: u64) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Search {
            space,
            trials,
            seed,
            threads,
            results: None,
            shard: (0, 1),
        }
    }

    /// Runs the trials on `threads` threads (at least one).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Appends each result to `path` as a JSON line as it finishes, and skips the trials
    /// the file already holds (a search started again resumes where it stopped). The file
    /// must have been written by the same search: a trial in it whose values differ from
    /// the ones this search draws for its index is an error.
    #[must_use]
    pub fn results_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.results = Some(path.into());
        self
    }

    /// Runs only the trials `i` with `i % count == shard`; `shard` must be below `count`.
    pub fn shard(mut self, shard: usize, count: usize) -> Result<Self, Error> {
        if count == 0 || shard >= count {
            return Err(Error::BadHyperparameter {
                name: "shard",
                value: shard as f64,
                expected: "below the number of shards, which is at least 1",
            });
        }
        self.shard = (shard, count);
        Ok(self)
    }

    /// The trial with number `index`: the same values and seed whenever it is drawn.
    ///
    /// ```
    /// use constnet::search::{Search, Space};
    /// let space = Space::new().uniform("dropout", 0.3, 0.9)?;
    /// let search = Search::new(space, 10, 1);
    /// assert_eq!(search.trial(4), search.trial(4));
    /// assert_ne!(search.trial(4).seed, search.trial(5).seed);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn trial(&self, index: usize) -> Trial {
        // One generator per trial, seeded from the search's seed and the index alone.
        let mut rng = SeededRng::seed_from_u64(mix(self.seed, index as u64));
        let seed = rng.random();
        Trial {
            index,
            seed,
            values: self.space.draw(&mut rng),
        }
    }

    /// Runs the search with `objective` returning a metric to maximize (a validation
    /// accuracy).
    pub fn maximize<F>(&self, objective: F) -> Result<Results, Error>
    where
        F: Fn(&Trial) -> Result<f64, Error> + Sync,
    {
        self.run(Goal::Maximize, objective)
    }

    /// Runs the search with `objective` returning a metric to minimize (a validation loss).
    pub fn minimize<F>(&self, objective: F) -> Result<Results, Error>
    where
        F: Fn(&Trial) -> Result<f64, Error> + Sync,
    {
        self.run(Goal::Minimize, objective)
    }

    /// Runs this shard's trials that the results file does not hold yet, and returns all of
    /// this shard's results. A trial whose objective fails is kept as failed, with the
    /// error; the others go on. An error writing the file ends the search.
    pub fn run<F>(&self, goal: Goal, objective: F) -> Result<Results, Error>
    where
        F: Fn(&Trial) -> Result<f64, Error> + Sync,
    {
        let mine = |i: &usize| i % self.shard.1 == self.shard.0;
        let mut done = match &self.results {
            Some(path) if path.exists() => jsonl::read(path)?,
            _ => Vec::new(),
        };
        done.retain(|o| o.index < self.trials && mine(&o.index));
        for outcome in &done {
            let drawn = self.trial(outcome.index);
            if drawn.values != outcome.values || drawn.seed != outcome.seed {
                return Err(Error::Search {
                    what: format!(
                        "the results file is another search's: its trial {} has other values",
                        outcome.index
                    ),
                });
            }
        }
        let todo: Vec<usize> = (0..self.trials)
            .filter(mine)
            .filter(|i| done.iter().all(|o| o.index != *i))
            .collect();
        let file = match &self.results {
            Some(path) => {
                if path.exists() {
                    jsonl::drop_partial_tail(path)?;
                }
                Some(Mutex::new(open_append(path)?))
            }
            None => None,
        };
        let outcomes = Mutex::new(done);
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..self.threads.min(todo.len()) {
                scope.spawn(|| {
                    while let Some(&index) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if lock(&failure).is_some() {
                            return;
                        }
                        let trial = self.trial(index);
                        let start = Instant::now();
                        let metric = match objective(&trial) {
                            Ok(m) if m.is_finite() => Ok(m),
                            Ok(m) => Err(format!("the metric is not finite ({m})")),
                            Err(e) => Err(e.to_string()),
                        };
                        let outcome = Outcome {
                            index,
                            seed: trial.seed,
                            values: trial.values,
                            metric,
                            seconds: start.elapsed().as_secs_f64(),
                            resumed: false,
                        };
                        if let (Some(file), Some(path)) = (&file, &self.results) {
                            let line = jsonl::line(&outcome);
                            let mut file = lock(file);
                            if let Err(e) =
                                file.write_all(line.as_bytes()).and_then(|_| file.flush())
                            {
                                *lock(&failure) = Some(Error::io(path, &e));
                                return;
                            }
                        }
                        lock(&outcomes).push(outcome);
                    }
                });
            }
        });
        if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(error);
        }
        let outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(Results::new(goal, self.space.clone(), outcomes))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// SplitMix64 of the search's seed and a trial's index: neighbouring indices get unrelated
/// generators.
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn open_append(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, &e))
}

/// A search's outcomes, best first, with the space they were drawn from.
#[derive(Debug, Clone)]
pub struct Results {
    goal: Goal,
    space: Space,
    outcomes: Vec<Outcome>,
}

impl Results {
    /// Sorts `outcomes`: successful trials best first (ties by index), then failed ones.
    fn new(goal: Goal, space: Space, mut outcomes: Vec<Outcome>) -> Self {
        outcomes.sort_by(|a, b| match (&a.metric, &b.metric) {
            (Ok(x), Ok(y)) => {
                let order = match goal {
                    Goal::Maximize => y.total_cmp(x),
                    Goal::Minimize => x.total_cmp(y),
                };
                order.then(a.index.cmp(&b.index))
            }
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => a.index.cmp(&b.index),
        });
        Results {
            goal,
            space,
            outcomes,
        }
    }

    /// Reads the results files of a search's shards (or of one interrupted run) together,
    /// for `space` and `goal`. A trial found in two files is kept once; a line cut short by
    /// a process killed mid-write (the last line of a file, without its newline) is skipped.
    pub fn merge(goal: Goal, space: Space, paths: &[impl AsRef<Path>]) -> Result<Results, Error> {
        let mut outcomes: Vec<Outcome> = Vec::new();
        for path in paths {
            for outcome in jsonl::read(path.as_ref())? {
                if outcomes.iter().all(|o| o.index != outcome.index) {
                    outcomes.push(outcome);
                }
            }
        }
        Ok(Results::new(goal, space, outcomes))
    }

    /// Every trial, successful ones best first, then the failed ones.
    pub fn trials(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The best successful trial.
    pub fn best(&self) -> Option<&Outcome> {
        self.outcomes.first().filter(|o| o.metric.is_ok())
    }

    /// The `k` best successful trials.
    pub fn top(&self, k: usize) -> &[Outcome] {
        let ok = self
            .outcomes
            .iter()
            .take_while(|o| o.metric.is_ok())
            .count();
        &self.outcomes[..k.min(ok)]
    }

    /// Whether higher metrics were better.
    pub fn goal(&self) -> Goal {
        self.goal
    }

    /// A warning for each numeric range whose best value lies within 5% of its border (of
    /// its width, in log space for a log-uniform range): the best may lie beyond it.
    ///
    /// ```
    /// use constnet::search::{Search, Space};
    /// let space = Space::new().log_uniform("learning_rate", 1e-6, 1.0)?;
    /// // the larger the better: the best will sit at the top
    /// let results = Search::new(space, 20, 0).maximize(|t| t.float("learning_rate"))?;
    /// let warnings = results.border_warnings();
    /// assert_eq!(warnings.len(), 1);
    /// assert!(warnings[0].contains("range's top: widen it"), "{}", warnings[0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn border_warnings(&self) -> Vec<String> {
        let Some(best) = self.best() else {
            return Vec::new();
        };
        self.space.border_warnings(&best.values, 0.05)
    }

    /// The space for a finer stage: each numeric range narrowed to the span of the `k` best
    /// trials' values, widened by half that span on each side (in log space for a
    /// log-uniform range) and kept within the old range; a choice keeps the options those
    /// trials used. With fewer than two successful trials the space is unchanged.
    ///
    /// ```
    /// use constnet::search::{Range, Search, Space};
    /// let space = Space::new().uniform("x", 0.0, 10.0)?;
    /// let results = Search::new(space, 40, 3).minimize(|t| Ok((t.float("x")? - 7.0).abs()))?;
    /// let finer = results.narrowed(5);
    /// let Range::Uniform { low, high } = finer.range("x").unwrap().clone() else { panic!() };
    /// assert!(low > 5.0 && high < 9.0 && low < 7.0 && high > 7.0, "{low}..{high}");
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn narrowed(&self, k: usize) -> Space {
        let top: Vec<&Values> = self.top(k).iter().map(|o| &o.values).collect();
        if top.len() < 2 {
            return self.space.clone();
        }
        self.space.narrowed(&top)
    }
}

impl fmt::Display for Results {
    /// The table of trials, best first: rank, trial, metric, seconds, values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4} {:>6} {:>12} {:>8}  values",
            "rank", "trial", "metric", "seconds"
        )?;
        for (rank, o) in self.outcomes.iter().enumerate() {
            let metric = match &o.metric {
                Ok(m) => format!("{m:.6}"),
                Err(_) => "failed".to_string(),
            };
            writeln!(
                f,
                "{:>4} {:>6} {:>12} {:>8.2}  {}",
                rank + 1,
                o.index,
                metric,
                o.seconds,
                o.values
            )?;
        }
        Ok(())
    }
}

/// The values of a trial as `name = value` pairs, for a table.
impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(v) => write!(f, "{v:.3e}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Choice(v) => write!(f, "{v}"),
        }
    }
}

/// The values by name, in name order.
pub(crate) type ValueMap = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_gives_distinct_seeds_for_neighbouring_trials() {
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|i| mix(0, i)).collect();
        assert_eq!(seeds.len(), 1000);
    }

    #[test]
    fn a_draw_depends_on_the_seed_and_index_alone() {
        let space = Space::new().uniform("x", 0.0, 1.0).unwrap();
        let a = Search::new(space.clone(), 10, 5);
        let b = Search::new(space, 100, 5).threads(1);
        assert_eq!(a.trial(3), b.trial(3));
    }
}
