//! The notes' last steps after training one network: a random hyperparameter search in two
//! stages (coarse, then narrowed around the best trials), then the best configuration as a
//! single network, the running average (EMA) of its weights, an ensemble of five, and a
//! small network distilled from that ensemble, each with its test accuracy.
//!
//! ```text
//! cargo run --release --example search                  # scikit-learn's digits
//! cargo run --release --example search -- --mnist       # MNIST
//! cargo run --release --example search -- --threads 1   # trials one at a time
//! ```
//!
//! Each stage's results are appended to `target/search/<data>-stage<k>.jsonl` as trials
//! finish; run the example again and it resumes where it stopped (delete the files to start
//! over). Across machines or processes, run the first stage's shards apart and merge them:
//!
//! ```text
//! cargo run --release --example search -- --shard 0/2 --results a.jsonl   # on one machine
//! cargo run --release --example search -- --shard 1/2 --results b.jsonl   # on another
//! cargo run --release --example search -- --merge a.jsonl b.jsonl
//! ```
//!
//! (In a SLURM array job, `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT --results
//! stage1-$SLURM_ARRAY_TASK_ID.jsonl`; with GNU parallel,
//! `parallel cargo run --release --example search -- --shard {}/4 --results s{}.jsonl ::: 0 1 2 3`.)

use std::path::PathBuf;
use std::time::Instant;

use constnet::datasets::{Header, Labeled, Regression, Split, Training, mnist, read_csv};
use constnet::ensemble::Ensemble;
use constnet::losses::Distillation;
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::search::{Goal, Results, Search, Space, Trial};
use constnet::train::{AverageWeights, Config, Progress, fit, fit_with};

network! {
    /// The searched network: one hidden layer whose width the search picks.
    struct Mlp<const IN: usize, const H: usize> { fc1: Dense<IN, H>, relu: Relu, fc2: Dense<H, 10> }
    /// The student a distillation trains.
    struct Small<const IN: usize> { fc1: Dense<IN, 16>, relu: Relu, fc2: Dense<16, 10> }
}

/// What the command line asked for.
struct Options {
    mnist: bool,
    trials: usize,
    threads: usize,
    shard: Option<(usize, usize)>,
    results: Option<PathBuf>,
    merge: Vec<PathBuf>,
}

fn options() -> Result<Options, Error> {
    let mut o = Options {
        mnist: false,
        trials: 32,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        shard: None,
        results: None,
        merge: Vec::new(),
    };
    let bad = |what: String| Error::NotApplicable { what };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| bad(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--mnist" => o.mnist = true,
            "--trials" => o.trials = value()?.parse().map_err(|_| bad("--trials N".into()))?,
            "--threads" => o.threads = value()?.parse().map_err(|_| bad("--threads N".into()))?,
            "--results" => o.results = Some(value()?.into()),
            "--shard" => {
                let v = value()?;
                let (k, n) = v
                    .split_once('/')
                    .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
                    .ok_or_else(|| bad(format!("--shard k/n, not {v}")))?;
                o.shard = Some((k, n));
            }
            "--merge" => o.merge.extend(args.by_ref().map(PathBuf::from)),
            other => return Err(bad(format!("unknown option {other}"))),
        }
    }
    Ok(o)
}

/// The first stage's ranges.
fn space() -> Result<Space, Error> {
    Space::new()
        .log_uniform("learning_rate", 1e-4, 1.0)?
        .log_uniform("l2", 1e-6, 1e-1)?
        .int("batch_size", 16, 256)?
        .choice("hidden", &["32", "128"])
}

/// A run's data: training, validation and test sets, and how long to train.
struct Data<const IN: usize> {
    name: &'static str,
    train: Training<f32, IN>,
    val: Labeled<f32, IN>,
    test: Labeled<f32, IN>,
    /// Epochs per search trial, and for the final networks.
    epochs: (usize, usize),
    /// The running average's decay: its reach, about `1 / (1 - decay)` steps, well within
    /// the final networks' run.
    ema_decay: f64,
}

fn config(trial: &Trial, epochs: usize, seed: u64) -> Result<Config, Error> {
    Ok(Config {
        progress: Progress::Silent,
        seed,
        regularizer: Some(Regularizer::l2(trial.float("l2")?)?),
        ..Config::new(epochs, trial.int("batch_size")? as usize)
    })
}

/// Trains the trial's network and returns its validation accuracy.
fn objective<const IN: usize>(data: &Data<IN>, trial: &Trial) -> Result<f64, Error> {
    match trial.choice("hidden")? {
        "32" => train::<IN, 32>(data, trial, trial.seed, data.epochs.0)
            .and_then(|net| net.accuracy(&data.val.inputs, &data.val.labels)),
        _ => train::<IN, 128>(data, trial, trial.seed, data.epochs.0)
            .and_then(|net| net.accuracy(&data.val.inputs, &data.val.labels)),
    }
}

fn train<const IN: usize, const H: usize>(
    data: &Data<IN>,
    trial: &Trial,
    seed: u64,
    epochs: usize,
) -> Result<Mlp<IN, H>, Error> {
    let mut net = Mlp::<IN, H>::new(seed);
    let mut adam = AdamConfig::new(trial.float("learning_rate")?).build()?;
    let config = config(trial, epochs, seed)?;
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &data.train,
        None,
        &config,
    )?;
    Ok(net)
}

/// One stage: runs (or resumes) the search and prints its table and warnings.
fn stage<const IN: usize>(
    data: &Data<IN>,
    search: Search,
    label: &str,
) -> Result<(Results, f64), Error> {
    let start = Instant::now();
    let results = search.maximize(|trial| objective(data, trial))?;
    let seconds = start.elapsed().as_secs_f64();
    let run_now: Vec<f64> = results
        .trials()
        .iter()
        .filter(|o| !o.resumed)
        .map(|o| o.seconds)
        .collect();
    let busy: f64 = run_now.iter().sum();
    let resumed = results.trials().len() - run_now.len();
    println!(
        "{label}: {} trials run in {seconds:.1} s wall ({busy:.1} s of trials: {:.2} at a time){}",
        run_now.len(),
        if seconds > 0.0 { busy / seconds } else { 0.0 },
        if resumed > 0 {
            format!("; {resumed} read from the results file")
        } else {
            String::new()
        }
    );
    print!("{}", first_lines(&results.to_string(), 11));
    for warning in results.border_warnings() {
        println!("warning: {warning}");
    }
    println!();
    Ok((results, seconds))
}

fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: String = lines.iter().take(n).map(|l| format!("{l}\n")).collect();
    if lines.len() > n {
        out.push_str(&format!("   ... {} more\n", lines.len() - n));
    }
    out
}

fn run<const IN: usize>(data: Data<IN>, o: &Options) -> Result<(), Error> {
    println!(
        "{}: {} training, {} validation, {} test samples; {} threads\n",
        data.name,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        o.threads
    );
    let space = space()?;
    if !o.merge.is_empty() {
        let merged = Results::merge(Goal::Maximize, space, &o.merge)?;
        print!("{merged}");
        for warning in merged.border_warnings() {
            println!("warning: {warning}");
        }
        return Ok(());
    }
    let dir = PathBuf::from("target/search");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
        path: dir.display().to_string(),
        problem: e.to_string(),
    })?;
    let file = |k: usize| dir.join(format!("{}-stage{k}.jsonl", data.name));
    let mut first = Search::new(space, o.trials, 1).threads(o.threads);
    if let Some((k, n)) = o.shard {
        first = first.shard(k, n)?;
    }
    first = first.results_file(o.results.clone().unwrap_or_else(|| file(1)));
    let (coarse, _) = stage(&data, first, "stage 1 (coarse)")?;
    if o.shard.is_some() {
        return Ok(());
    }
    // Stage 2: ranges narrowed around the 8 best trials, half as many trials.
    let finer = coarse.narrowed(8);
    let second = Search::new(finer, o.trials / 2, 2)
        .threads(o.threads)
        .results_file(file(2));
    let (fine, _) = stage(&data, second, "stage 2 (narrowed around the 8 best)")?;
    let best = [coarse.best(), fine.best()]
        .into_iter()
        .flatten()
        .max_by(|a, b| {
            let m = |o: &constnet::search::Outcome| o.metric.clone().unwrap_or(f64::MIN);
            m(a).total_cmp(&m(b))
        })
        .ok_or_else(|| Error::NotApplicable {
            what: "a best trial: every trial failed".into(),
        })?;
    println!(
        "best: validation accuracy {:.4} with {}\n",
        best.metric.clone().unwrap_or(f64::NAN),
        best.values
    );
    let trial = Trial {
        index: best.index,
        seed: best.seed,
        values: best.values.clone(),
    };
    match trial.choice("hidden")? {
        "32" => finals::<IN, 32>(&data, &trial, o),
        _ => finals::<IN, 128>(&data, &trial, o),
    }
}

/// The best configuration trained longer: one network and its weights' running average,
/// an ensemble of five, and a small network distilled from the ensemble.
fn finals<const IN: usize, const H: usize>(
    data: &Data<IN>,
    trial: &Trial,
    o: &Options,
) -> Result<(), Error> {
    let epochs = data.epochs.1;
    let accuracy = |net: &Mlp<IN, H>| net.accuracy(&data.test.inputs, &data.test.labels);
    // Five networks of the best configuration, from five seeds, on the threads.
    let start = Instant::now();
    let members: Vec<Result<(Mlp<IN, H>, Mlp<IN, H>), Error>> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<u64>> = (0..o.threads.max(1))
            .map(|t| {
                (0..5)
                    .filter(|s| s % o.threads.max(1) as u64 == t as u64)
                    .collect()
            })
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|seeds| {
                scope.spawn(move || {
                    seeds
                        .into_iter()
                        .map(|seed| member(data, trial, seed, epochs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let members = members.into_iter().collect::<Result<Vec<_>, _>>()?;
    println!(
        "final networks: 5 seeds x {epochs} epochs in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let (single, averaged) = &members[0];
    println!(
        "  single network          {:.2}%",
        100.0 * accuracy(single)?
    );
    println!(
        "  its EMA (decay {})   {:.2}%",
        data.ema_decay,
        100.0 * accuracy(averaged)?
    );
    let ensemble = Ensemble::new(members.into_iter().map(|(net, _)| net).collect())?;
    let ensemble_accuracy = ensemble.accuracy(&data.test.inputs, &data.test.labels)?;
    println!(
        "  ensemble of 5           {:.2}%",
        100.0 * ensemble_accuracy
    );
    // The student: a 16-unit network, on the ensemble's probabilities at T = 4 and the
    // labels, beside the same network trained on the labels alone.
    let temperature = 4.0;
    let soft = ensemble.soft_targets(&data.train.inputs, temperature)?;
    let targets = Distillation::targets(&soft, &data.train.labels)?;
    let distilled_set = Regression::new(data.train.inputs.clone(), targets)?.into_training();
    let student_config = Config {
        progress: Progress::Silent,
        ..Config::new(epochs, 64)
    };
    let mut student = Small::<IN>::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let loss = Distillation::new(temperature, 0.7)?;
    fit(
        &mut student,
        &mut adam,
        &loss,
        &distilled_set,
        None,
        &student_config,
    )?;
    let mut alone = Small::<IN>::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    fit(
        &mut alone,
        &mut adam,
        &SoftmaxCrossEntropy,
        &data.train,
        None,
        &student_config,
    )?;
    let small = |net: &Small<IN>| net.accuracy(&data.test.inputs, &data.test.labels);
    println!("  16 units, distilled     {:.2}%", 100.0 * small(&student)?);
    println!("  16 units, labels alone  {:.2}%", 100.0 * small(&alone)?);
    Ok(())
}

/// One member of the ensemble, with the running average of its weights.
fn member<const IN: usize, const H: usize>(
    data: &Data<IN>,
    trial: &Trial,
    seed: u64,
    epochs: usize,
) -> Result<(Mlp<IN, H>, Mlp<IN, H>), Error> {
    let mut net = Mlp::<IN, H>::new(seed);
    let mut adam = AdamConfig::new(trial.float("learning_rate")?).build()?;
    let mut average = AverageWeights::new(data.ema_decay)?;
    let config = config(trial, epochs, seed)?;
    fit_with(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &data.train,
        None,
        &config,
        &mut [&mut average],
    )?;
    let averaged = average.averaged(&net)?;
    Ok((net, averaged))
}

fn main() -> Result<(), Error> {
    let o = options()?;
    if o.mnist {
        let (train, rest) = mnist::<f32>("data/mnist", Split::Train)?
            .shuffled(0)
            .split(55_000);
        let standardize = Standardize::fit(&train, Granularity::Scalar, true);
        let data = Data {
            name: "mnist",
            train: standardize.apply(&train).into_training(),
            val: standardize.apply(&rest),
            test: standardize.apply(&mnist::<f32>("data/mnist", Split::Test)?),
            epochs: (2, 8),
            ema_decay: 0.999,
        };
        run(data, &o)
    } else {
        let digits = read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)?
            .scaled(1.0 / 16.0)
            .shuffled(0);
        let (train, rest) = digits.split(1_257);
        let (val, test) = rest.split(270);
        let data = Data {
            name: "digits",
            train,
            val: val.into_inner(),
            test,
            epochs: (40, 80),
            ema_decay: 0.99,
        };
        run(data, &o)
    }
}
