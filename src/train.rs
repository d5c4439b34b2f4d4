//! A mini-batch trainer for classifiers: epochs of shuffled mini-batches, any update rule,
//! schedule, regularizer and classification loss, a per-epoch history, a progress bar on a
//! terminal and plain log lines elsewhere, and a clean stop on a non-finite loss.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::datasets::Labeled;
use crate::{Error, Float, Loss, MaxNorm, Network, Optimizer, Regularizer, Schedule, Tape};

/// When a [`Schedule`] sets the learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Before each epoch, with `t` the number of epochs done.
    Epoch,
    /// Before each step, with `t` the number of steps done.
    Step,
}

/// How the trainer reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// A progress bar when standard error is a terminal, plain lines otherwise (CI, a pipe).
    #[default]
    Auto,
    /// One plain line per epoch on standard error.
    Lines,
    /// Nothing.
    Silent,
}

/// What [`fit`] does. `Config::new(epochs, batch_size)` gives the rest sensible defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per mini-batch (the last of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the shuffling; the same seed (and network seed) gives the same history.
    pub seed: u64,
    /// A learning-rate schedule and when it applies.
    pub schedule: Option<(Schedule, Every)>,
    /// A penalty added to the loss and the gradient.
    pub regularizer: Option<Regularizer>,
    /// A max-norm constraint applied after each update.
    pub max_norm: Option<MaxNorm>,
    /// How progress is shown.
    pub progress: Progress,
}

impl Config {
    /// `epochs` epochs of mini-batches of `batch_size`, seed 0, no schedule, no penalty.
    ///
    /// ```
    /// let config = constnet::train::Config::new(10, 64);
    /// assert_eq!((config.epochs, config.batch_size, config.seed), (10, 64, 0));
    /// ```
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        Config {
            epochs,
            batch_size,
            seed: 0,
            schedule: None,
            regularizer: None,
            max_norm: None,
            progress: Progress::Auto,
        }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean training loss (data loss plus penalty) over the epoch's batches.
    pub train_loss: f64,
    /// The fraction of training samples classified right, counted on each batch's scores as
    /// it was trained (training mode: with dropout active, this is below what evaluation
    /// gives).
    pub train_accuracy: f64,
    /// The validation accuracy in evaluation mode after the epoch, when a validation set is
    /// given.
    pub val_accuracy: Option<f64>,
    /// The learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Wall time of the epoch, validation included, in seconds.
    pub seconds: f64,
}

/// Every epoch's numbers, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One entry per epoch completed.
    pub epochs: Vec<EpochStats>,
}

impl History {
    /// The last epoch's numbers.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
}

/// Trains `net` on `train` with `optimizer` and `loss` as `config` says, and returns the
/// history. After each epoch, `val` (if given) is evaluated in evaluation mode.
///
/// A NaN or infinite loss stops training with [`Error::Diverged`] naming the epoch and
/// step; the network's parameters and state are then those of the last step whose loss was
/// finite.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::train::{fit, Config, Progress};
/// network! { struct Net { fc1: Dense<2, 32>, act: Relu, fc2: Dense<32, 3> } }
/// let data = constnet::datasets::spiral::<f32>(100, 3, 0);
/// let mut net = Net::new(0);
/// let mut adam = AdamConfig::new(1e-2).build()?;
/// let config = Config { progress: Progress::Silent, ..Config::new(20, 30) };
/// let history = fit(&mut net, &mut adam, &SoftmaxCrossEntropy, &data, None, &config)?;
/// assert_eq!(history.epochs.len(), 20);
/// assert!(history.last().unwrap().train_loss < history.epochs[0].train_loss);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn fit<T, const IN: usize, const OUT: usize, N, O, L>(
    net: &mut N,
    optimizer: &mut O,
    loss: &L,
    train: &Labeled<T, IN>,
    val: Option<&Labeled<T, IN>>,
    config: &Config,
) -> Result<History, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    O: Optimizer<T>,
    L: Loss<T, OUT, Target = [usize]>,
{
    if config.epochs == 0 {
        return Err(Error::BadHyperparameter {
            name: "epochs",
            value: 0.0,
            expected: "at least 1",
        });
    }
    if train.is_empty() {
        return Err(Error::EmptyBatch);
    }
    let mut batches = train.mini_batches(config.batch_size, config.seed)?;
    let mut tape = net.new_tape(config.batch_size.min(train.len()));
    let mut grads = net.new_grads();
    // The parameters and state before the last update, restored on a non-finite loss.
    let mut last_good = (net.params().to_vec(), net.state().to_vec());
    let report = Report::new(config.progress, config.epochs * batches.per_epoch());
    let mut history = History::default();
    let mut step = 0u64;
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        if let Some((schedule, Every::Epoch)) = &config.schedule {
            schedule.apply(optimizer, epoch as u64 - 1)?;
        }
        let (mut loss_sum, mut hits, mut seen, mut batch_count) = (0.0, 0, 0, 0);
        while let Some((x, labels)) = batches.next_batch() {
            if let Some((schedule, Every::Step)) = &config.schedule {
                schedule.apply(optimizer, step)?;
            }
            let mut value = net.loss_and_grad(&x, labels, loss, &mut tape, &mut grads)?;
            if let Some(regularizer) = &config.regularizer {
                value += regularizer.apply(net, &mut grads);
            }
            if !value.is_finite() {
                net.params_mut().copy_from_slice(&last_good.0);
                net.state_mut().copy_from_slice(&last_good.1);
                report.finish();
                return Err(Error::Diverged {
                    epoch,
                    step: batch_count + 1,
                    loss: value.as_f64(),
                });
            }
            hits += correct(tape.output(), labels);
            seen += labels.len();
            loss_sum += value.as_f64();
            batch_count += 1;
            last_good.0.copy_from_slice(net.params());
            last_good.1.copy_from_slice(net.state());
            optimizer.step(net.params_mut(), &grads)?;
            if let Some(max_norm) = &config.max_norm {
                max_norm.apply(net);
            }
            step += 1;
            report.step();
        }
        batches.next_epoch();
        let val_accuracy = match val {
            Some(v) => Some(net.accuracy(&v.inputs, &v.labels)?),
            None => None,
        };
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / batch_count as f64,
            train_accuracy: hits as f64 / seen as f64,
            val_accuracy,
            learning_rate: optimizer.learning_rate(),
            seconds: start.elapsed().as_secs_f64(),
        };
        report.epoch(&stats, config.epochs);
        history.epochs.push(stats);
    }
    report.finish();
    Ok(history)
}

/// How many columns of `scores` have their largest value at the label.
fn correct<T: Float, const K: usize>(
    scores: crate::BatchView<'_, T, K>,
    labels: &[usize],
) -> usize {
    scores
        .column_iter()
        .zip(labels)
        .filter(|(s, l)| crate::network::argmax(s.as_slice()) == **l)
        .count()
}

/// The progress bar or the log lines.
struct Report {
    bar: Option<ProgressBar>,
    lines: bool,
}

impl Report {
    fn new(progress: Progress, steps: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match progress {
            Progress::Auto if terminal => {
                let bar = ProgressBar::new(steps as u64);
                if let Ok(style) = ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} steps, {per_sec}, eta {eta} {msg}",
                ) {
                    bar.set_style(style);
                }
                Report {
                    bar: Some(bar),
                    lines: true,
                }
            }
            Progress::Auto | Progress::Lines => Report {
                bar: None,
                lines: true,
            },
            Progress::Silent => Report {
                bar: None,
                lines: false,
            },
        }
    }

    fn step(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn epoch(&self, stats: &EpochStats, epochs: usize) {
        if !self.lines {
            return;
        }
        let val = stats
            .val_accuracy
            .map_or(String::new(), |v| format!(", val acc {:.2}%", 100.0 * v));
        let line = format!(
            "epoch {}/{epochs}: loss {:.4}, train acc {:.2}%{val}, lr {:.3e}, {:.1} s",
            stats.epoch,
            stats.train_loss,
            100.0 * stats.train_accuracy,
            stats.learning_rate,
            stats.seconds
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
