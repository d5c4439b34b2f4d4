//! Random search as a user runs it: each trial trains a spiral classifier and returns its
//! validation accuracy. The sampler's distributions, failed trials, border warnings, narrowing,
//! a search killed partway and resumed, and two shards run as two processes and merged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use constnet::prelude::*;
use constnet::search::{Goal, Outcome, Range, Results, Search, Space, Trial};
use constnet::train::{Config, Progress, fit};

network! {
    struct Narrow { fc1: Dense<2, 16>, relu: Relu, fc2: Dense<16, 3> }
    struct Wide { fc1: Dense<2, 64>, relu: Relu, fc2: Dense<64, 3> }
}

fn space() -> Space {
    Space::new()
        .log_uniform("learning_rate", 1e-3, 1e2)
        .unwrap()
        .log_uniform("l2", 1e-3, 10.0)
        .unwrap()
        .int("batch_size", 16, 64)
        .unwrap()
        .choice("net", &["narrow", "wide"])
        .unwrap()
}

/// Trains the trial's network with SGD and L2 for a few epochs and returns its validation
/// accuracy; a step that diverges (L2 alone multiplies a weight by `1 - lr * l2` per step,
/// so `lr * l2 > 2` grows it without bound) fails the trial.
fn objective(trial: &Trial) -> Result<f64, Error> {
    let (train, val) = constnet::datasets::spiral::<f32>(60, 3, 0)
        .shuffled(1)
        .split(150);
    let config = Config {
        progress: Progress::Silent,
        seed: trial.seed,
        regularizer: Some(Regularizer::l2(trial.float("l2")?)?),
        ..Config::new(8, trial.int("batch_size")? as usize)
    };
    let mut sgd = Sgd::new(trial.float("learning_rate")?)?;
    if let Ok(ms) = std::env::var("CONSTNET_SEARCH_SLOW_MS") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
    }
    match trial.choice("net")? {
        "narrow" => {
            let mut net = Narrow::new(trial.seed);
            fit(
                &mut net,
                &mut sgd,
                &SoftmaxCrossEntropy,
                &train,
                None,
                &config,
            )?;
            net.accuracy(&val.inputs, &val.labels)
        }
        _ => {
            let mut net = Wide::new(trial.seed);
            fit(
                &mut net,
                &mut sgd,
                &SoftmaxCrossEntropy,
                &train,
                None,
                &config,
            )?;
            net.accuracy(&val.inputs, &val.labels)
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-search-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// What a trial's outcome must agree on across runs: all but the time it took.
fn key(o: &Outcome) -> (usize, u64, String, Result<f64, String>) {
    (o.index, o.seed, o.values.to_string(), o.metric.clone())
}

fn keys(results: &Results) -> Vec<(usize, u64, String, Result<f64, String>)> {
    results.trials().iter().map(key).collect()
}

#[test]
fn the_sampler_draws_each_range_as_its_distribution_says() {
    let space = Space::new()
        .log_uniform("lr", 1e-6, 10.0)
        .unwrap()
        .uniform("p", 0.3, 0.9)
        .unwrap()
        .int("width", 1, 4)
        .unwrap()
        .choice("rule", &["sgd", "adam"])
        .unwrap();
    let search = Search::new(space, 0, 11);
    let n = 28_000;
    let (mut decades, mut p_sum, mut widths, mut adams) = ([0usize; 7], 0.0, [0usize; 4], 0);
    for i in 0..n {
        let t = search.trial(i);
        let lr = t.float("lr").unwrap();
        assert!((1e-6..=10.0).contains(&lr));
        decades[((lr.log10() + 6.0).floor() as usize).min(6)] += 1;
        let p = t.float("p").unwrap();
        assert!((0.3..=0.9).contains(&p));
        p_sum += p;
        widths[(t.int("width").unwrap() - 1) as usize] += 1;
        adams += usize::from(t.choice("rule").unwrap() == "adam");
    }
    // log-uniform: each of the 7 decades 1e-6..1e1 holds a seventh (4,000) of the draws
    for count in decades {
        assert!((3_700..=4_300).contains(&count), "{decades:?}");
    }
    assert!((p_sum / n as f64 - 0.6).abs() < 0.005);
    for count in widths {
        assert!((6_700..=7_300).contains(&count), "{widths:?}");
    }
    assert!((13_600..=14_400).contains(&adams));
    // Asking for a name the space lacks, or as another kind, is an error.
    let t = search.trial(0);
    assert!(
        t.float("momentum")
            .unwrap_err()
            .to_string()
            .contains("lr, p, rule, width")
    );
    assert!(t.int("lr").is_err() && t.choice("width").is_err() && t.float("rule").is_err());
}

#[test]
fn a_search_of_training_runs_keeps_failed_trials_and_ranks_the_rest() {
    let results = Search::new(space(), 24, 3)
        .threads(2)
        .maximize(objective)
        .unwrap();
    assert_eq!(results.trials().len(), 24);
    let mut indices: Vec<usize> = results.trials().iter().map(|o| o.index).collect();
    indices.sort();
    assert_eq!(indices, (0..24).collect::<Vec<_>>());
    // Best first, then the failed ones (learning rates near 10 diverge).
    let metrics: Vec<f64> = results
        .trials()
        .iter()
        .map_while(|o| o.metric.clone().ok())
        .collect();
    assert!(metrics.windows(2).all(|w| w[0] >= w[1]), "{metrics:?}");
    let failed = &results.trials()[metrics.len()..];
    assert!(!failed.is_empty(), "no learning rate diverged:\n{results}");
    for o in failed {
        let (lr, l2) = (
            o.values.float("learning_rate").unwrap(),
            o.values.float("l2").unwrap(),
        );
        assert!(lr * l2 > 1.0, "{results}");
        let error = o.metric.as_ref().unwrap_err();
        assert!(
            error.contains("inf") || error.contains("not finite"),
            "{o:?}"
        );
    }
    assert!(
        results.best().unwrap().metric.clone().unwrap() > 0.8,
        "{results}"
    );
    assert_eq!(results.top(3).len(), 3);
    // One thread gives the same results as two.
    let single = Search::new(space(), 24, 3)
        .threads(1)
        .maximize(objective)
        .unwrap();
    assert_eq!(keys(&single), keys(&results));
    let table = results.to_string();
    assert!(
        table.lines().count() == 25 && table.contains("failed"),
        "{table}"
    );
}

#[test]
fn a_best_value_at_a_border_is_flagged_and_a_finer_stage_narrows_around_the_best() {
    let space = Space::new()
        .log_uniform("learning_rate", 1e-6, 1.0)
        .unwrap()
        .uniform("x", -1.0, 1.0)
        .unwrap()
        .int("width", 1, 100)
        .unwrap()
        .choice("rule", &["sgd", "momentum", "adam"])
        .unwrap();
    let search = |score: fn(&Trial) -> Result<f64, Error>| {
        Search::new(space.clone(), 200, 5).maximize(score).unwrap()
    };
    // The larger the learning rate the better: the best lies at the range's top.
    // (Only the ranges the score depends on are asked about: a range the score ignores
    // has its best value anywhere, at a border too.)
    let about = |results: &Results, name: &str| -> Vec<String> {
        let warnings = results.border_warnings();
        warnings
            .into_iter()
            .filter(|w| w.starts_with(&format!("best {name} ")))
            .collect()
    };
    let warnings = about(&search(|t| t.float("learning_rate")), "learning rate");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("best learning rate 9."),
        "{warnings:?}"
    );
    assert!(
        warnings[0].ends_with("is within 5% of the range's top: widen it"),
        "{warnings:?}"
    );
    // The narrower the better: at the bottom.
    let warnings = about(&search(|t| Ok(-t.int("width")? as f64)), "width");
    assert_eq!(
        warnings,
        ["best width 1 is within 5% of the range's bottom: widen it"]
    );
    // Best near the middle: no warning.
    let score: fn(&Trial) -> Result<f64, Error> = |t| {
        let rule = if t.choice("rule")? == "adam" {
            1.0
        } else {
            0.0
        };
        Ok(rule - t.float("x")?.abs() - (t.float("learning_rate")?.log10() + 3.0).abs())
    };
    let results = search(score);
    assert!(about(&results, "learning rate").is_empty() && about(&results, "x").is_empty());
    // The finer stage: every range within the old one and around the best trials.
    let finer = results.narrowed(10);
    let best = &results.best().unwrap().values;
    let Range::LogUniform { low, high } = finer.range("learning_rate").unwrap().clone() else {
        panic!("{finer:?}")
    };
    assert!(
        low > 1e-6 && high < 1.0 && (low..=high).contains(&1e-3),
        "{low}..{high}"
    );
    assert!((low..=high).contains(&best.float("learning_rate").unwrap()));
    let Range::Uniform {
        low: x_low,
        high: x_high,
    } = finer.range("x").unwrap().clone()
    else {
        panic!("{finer:?}")
    };
    assert!(
        x_low > -1.0 && x_high < 1.0 && x_low < 0.0 && x_high > 0.0,
        "{x_low}..{x_high}"
    );
    assert_eq!(
        finer.range("rule").unwrap(),
        &Range::Choice(vec!["adam".into()])
    );
    // A stage over the finer space draws inside it, and does at least as well at its best.
    let stage = Search::new(finer, 50, 6).maximize(score).unwrap();
    for o in stage.trials() {
        let lr = o.values.float("learning_rate").unwrap();
        assert!((low..=high).contains(&lr));
    }
    let metric = |r: &Results| r.best().unwrap().metric.clone().unwrap();
    assert!(
        metric(&stage) >= metric(&results) - 0.2,
        "{stage}\n{results}"
    );
}

/// The test binary again, running only `child_process_search` with `args` in its
/// environment.
fn child(args: &str, slow_ms: u64) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_process_search",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CONSTNET_SEARCH_CHILD", args)
        .env("CONSTNET_SEARCH_SLOW_MS", slow_ms.to_string());
    command
}

/// The entry point of the child processes below (it does nothing in a plain test run):
/// runs the search's shard `k/n` into a results file, as a user's
/// `my-search --shard k/n --results FILE` would.
#[test]
fn child_process_search() {
    let Ok(args) = std::env::var("CONSTNET_SEARCH_CHILD") else {
        return;
    };
    let (shard, path) = args.split_once(' ').unwrap();
    let (k, n) = shard.split_once('/').unwrap();
    let results = Search::new(space(), 16, 9)
        .threads(2)
        .shard(k.parse().unwrap(), n.parse().unwrap())
        .unwrap()
        .results_file(path)
        .maximize(objective)
        .unwrap();
    assert!(!results.trials().is_empty());
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.matches('\n').count())
        .unwrap_or(0)
}

#[test]
fn two_shards_run_as_two_processes_merge_into_the_whole_search() {
    let whole = Search::new(space(), 16, 9).maximize(objective).unwrap();
    let (a, b) = (scratch("shard-0.jsonl"), scratch("shard-1.jsonl"));
    let mut first = child(&format!("0/2 {}", a.display()), 0).spawn().unwrap();
    let mut second = child(&format!("1/2 {}", b.display()), 0).spawn().unwrap();
    assert!(first.wait().unwrap().success() && second.wait().unwrap().success());
    assert_eq!((lines(&a), lines(&b)), (8, 8));
    let merged = Results::merge(Goal::Maximize, space(), &[&a, &b]).unwrap();
    assert_eq!(keys(&merged), keys(&whole));
    assert_eq!(merged.border_warnings(), whole.border_warnings());
}

#[test]
fn a_search_killed_partway_resumes_to_the_uninterrupted_results() {
    let whole = Search::new(space(), 16, 9).maximize(objective).unwrap();
    let path = scratch("killed.jsonl");
    // Slow trials (200 ms each), killed once three have been written.
    let mut process = child(&format!("0/1 {}", path.display()), 200)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while lines(&path) < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    process.kill().unwrap();
    process.wait().unwrap();
    let written = lines(&path);
    assert!(
        (3..16).contains(&written),
        "{written} trials written before the kill"
    );
    // A line cut short, as a kill mid-write leaves it, is skipped.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"trial\":15,\"se"))
        .unwrap();
    let resumed = Search::new(space(), 16, 9)
        .results_file(&path)
        .maximize(objective)
        .unwrap();
    assert_eq!(keys(&resumed), keys(&whole));
    // Started again, it runs nothing: the file holds every trial.
    let again = Search::new(space(), 16, 9)
        .results_file(&path)
        .maximize(|_| panic!("no trial is left to run"))
        .unwrap();
    assert_eq!(keys(&again), keys(&whole));
}

#[test]
fn a_results_file_of_another_search_or_a_corrupt_one_is_an_error() {
    let path = scratch("other.jsonl");
    Search::new(space(), 4, 1)
        .results_file(&path)
        .maximize(|_| Ok(0.5))
        .unwrap();
    let err = Search::new(space(), 4, 2)
        .results_file(&path)
        .maximize(|_| Ok(0.5))
        .unwrap_err();
    assert!(err.to_string().contains("another search's"), "{err}");
    // A bad line that is not the last one names its line.
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen("\"metric\"", "\"metrc\"", 1);
    std::fs::write(&path, broken).unwrap();
    let err = Search::new(space(), 4, 1)
        .results_file(&path)
        .maximize(|_| Ok(0.5))
        .unwrap_err();
    assert!(err.to_string().contains("other.jsonl:1"), "{err}");
    // A results file in a directory that does not exist.
    let missing = scratch("no-such-dir").join("results.jsonl");
    assert!(
        Search::new(space(), 4, 1)
            .results_file(missing)
            .maximize(|_| Ok(0.5))
            .is_err()
    );
    assert!(Search::new(space(), 4, 1).shard(2, 2).is_err());
}
