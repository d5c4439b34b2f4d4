//! A mini-batch trainer for classifiers and regressors: epochs of shuffled mini-batches of
//! any [`Supervised`] set (class labels or regression targets), any update rule, schedule,
//! regularizer and loss that takes the set's targets, a per-epoch history (with, on request,
//! each epoch's update/weight ratios), plain log lines
//! (under a progress bar on a terminal) and a clean stop on
//! a non-finite loss.

mod average;
mod callbacks;
mod second_order;

use std::time::Instant;

pub use average::AverageWeights;
pub use callbacks::{EarlyStopping, Metric, SaveCheckpoints};
pub use second_order::{fit_lbfgs, fit_newton};

use crate::batch::{AsBatch, Batch};
use crate::datasets::{Dataset, MiniBatches, SetOf, Supervised, check_finite};
use crate::diagnostics::{TensorStats, UpdateMonitor};
use crate::error::Error;
use crate::losses::TakesTargets;
use crate::network::{Network, OnBatch, Tape, TensorRef, loss_and_grad};
use crate::optim::Optimizer;
use crate::record::{Record, Recorder, StepRow};
use crate::regularize::{Clip, MaxNorm, Regularizer};
use crate::scalar::{Float, first_non_finite};
use crate::schedule::Schedule;

/// When a [`Schedule`] sets the learning rate.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::datasets::Labeled;
/// use constnet::train::{fit, Config, Every, Progress};
/// network! { struct Net { fc: Dense<1, 2> } }
/// let train = Labeled::new(Batch::<f32, 1>::from_column_slice(&[0.0, 1.0, 2.0, 3.0]), vec![0, 1, 0, 1])?;
/// // 1/t decay, 0.1 / (1 + t): per step, the epoch's second (last) step has t = 1.
/// let schedule = Schedule::inverse_time(0.1, 1.0)?;
/// let lr_after = |every| -> Result<f64, Error> {
///     let config = Config {
///         schedule: Some((schedule, every)),
///         progress: Progress::Silent,
///         ..Config::new(1, 2)
///     };
///     let mut sgd = Sgd::new(1.0)?;
///     let history = fit(&mut Net::new(0), &mut sgd, &SoftmaxCrossEntropy, &train, None, &config)?;
///     Ok(history.epochs[0].learning_rate)
/// };
/// assert!((lr_after(Every::Step)? - 0.05).abs() < 1e-12);
/// assert!((lr_after(Every::Epoch)? - 0.1).abs() < 1e-12);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Before each epoch, with `t` the number of epochs done.
    Epoch,
    /// Before each step, with `t` the number of steps done.
    Step,
}

/// How the trainer reports its progress.
///
/// ```
/// use constnet::train::{Config, Progress};
/// assert_eq!(Config::new(5, 32).progress, Progress::Auto);
/// let quiet = Config { progress: Progress::Silent, ..Config::new(5, 32) };
/// assert_ne!(quiet, Config::new(5, 32));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// One plain line per epoch on standard error, under a progress bar of the steps (done
    /// and left, the last loss, samples per second, the time left) when standard error is a
    /// terminal, not in CI (the `CI` variable set) and not a dumb terminal.
    #[default]
    Auto,
    /// One plain line per epoch on standard error.
    Lines,
    /// Nothing.
    Silent,
}

/// What [`fit`] does. `Config::new(epochs, batch_size)` gives the rest sensible defaults.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::train::{Config, Every};
/// let config = Config {
///     schedule: Some((Schedule::step(1e-3, 4, 0.5)?, Every::Epoch)),
///     regularizer: Some(Regularizer::l2(1e-4)?),
///     max_norm: Some(MaxNorm::new(3.0)?),
///     ..Config::new(12, 64)
/// };
/// assert_eq!((config.epochs, config.batch_size), (12, 64));
/// assert!(!config.monitor_updates);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per mini-batch (the last of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the shuffling; the same seed (and network seed) gives the same history.
    pub seed: u64,
    /// The epoch (from 1) to start at, to resume a run after epoch `first_epoch - 1` from
    /// its checkpoint ([`SaveCheckpoints`] saves one each epoch, with metadata `epoch`):
    /// the shuffling, the step count, the schedule and dropout's masks (reseeded each epoch
    /// from its number) go on where that run was, so the resumed run repeats the
    /// uninterrupted one exactly. 1 by default; at most `epochs`.
    pub first_epoch: usize,
    /// A learning-rate schedule and when it applies.
    pub schedule: Option<(Schedule, Every)>,
    /// A penalty added to the loss and the gradient.
    pub regularizer: Option<Regularizer>,
    /// A max-norm constraint applied after each update.
    pub max_norm: Option<MaxNorm>,
    /// Gradient clipping, by global norm or by value, applied to each step's gradient
    /// (with the penalty's) before the update.
    pub clip: Option<Clip>,
    /// How progress is shown.
    pub progress: Progress,
    /// Whether to record, for each epoch's last step, every parameter tensor's
    /// update/weight ratio and gradient norm in [`History::updates`] (through an
    /// [`UpdateMonitor`], from the copy of the parameters the trainer keeps anyway; off, it
    /// costs nothing).
    pub monitor_updates: bool,
    /// Whether to write the run to a directory as it trains: `metrics.csv`, TensorBoard
    /// event files and, with the `plots` feature, figures and `report.html` (see
    /// [`crate::record`]); off, it costs nothing.
    pub record: Option<Record>,
}

impl Config {
    /// `epochs` epochs of mini-batches of `batch_size`, seed 0, no schedule, no penalty, no
    /// update monitor.
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
            first_epoch: 1,
            schedule: None,
            regularizer: None,
            max_norm: None,
            clip: None,
            progress: Progress::Auto,
            monitor_updates: false,
            record: None,
        }
    }
}

/// One epoch's numbers.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::datasets::Labeled;
/// use constnet::train::{fit, Config, Progress};
/// network! { struct Net { fc: Dense<1, 2> } }
/// let data = Labeled::new(Batch::<f32, 1>::from_column_slice(&[-1.0, 1.0, -2.0, 2.0]), vec![0, 1, 0, 1])?;
/// let config = Config { progress: Progress::Silent, ..Config::new(2, 4) };
/// let history = fit(&mut Net::new(0), &mut Sgd::new(0.5)?, &SoftmaxCrossEntropy, &data, Some(&data), &config)?;
/// let stats = history.epochs[1];
/// assert_eq!(stats.epoch, 2);
/// assert_eq!(stats.learning_rate, 0.5);
/// // A classifier gets accuracies; with a validation set, its loss and accuracy too.
/// assert!(stats.train_accuracy.is_some() && stats.val_loss.unwrap().is_finite());
/// assert!((0.0..=1.0).contains(&stats.val_accuracy.unwrap()));
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean training loss (data loss plus penalty) over the epoch's batches.
    pub train_loss: f64,
    /// For a classifier (a set of labels), the fraction of training samples classified
    /// right, counted on each batch's scores as it was trained (training mode: with dropout
    /// active, this is below what evaluation gives); `None` for a regressor.
    pub train_accuracy: Option<f64>,
    /// The data loss on the whole validation set in evaluation mode after the epoch (no
    /// penalty; the mean squared error for a regressor trained with it), when a validation
    /// set is given.
    pub val_loss: Option<f64>,
    /// For a classifier, the validation accuracy in evaluation mode after the epoch, when a
    /// validation set is given; `None` for a regressor.
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
    /// With [`Config::monitor_updates`], one entry per epoch completed: the statistics of
    /// its last step, one per parameter tensor in declaration order (the notes' rule of
    /// thumb: an update/weight ratio near 1e-3). Empty otherwise.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// use constnet::datasets::Labeled;
    /// use constnet::train::{fit, Config, Progress};
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.2, 0.1, 0.9]);
    /// let train = Labeled::new(x, vec![0, 1, 0, 1])?;
    /// let mut net = Net::new(0);
    /// let mut sgd = Sgd::new(0.1)?;
    /// let config = Config { monitor_updates: true, progress: Progress::Silent, ..Config::new(3, 2) };
    /// let history = fit(&mut net, &mut sgd, &SoftmaxCrossEntropy, &train, None, &config)?;
    /// assert_eq!(history.updates.len(), 3);
    /// let names: Vec<&str> = history.updates[2].iter().map(|t| t.name.as_str()).collect();
    /// assert_eq!(names, ["fc.weight", "fc.bias"]);
    /// assert!(history.updates[2].iter().all(|t| t.update_ratio() > 0.0));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub updates: Vec<Vec<TensorStats>>,
}

impl History {
    /// The last epoch's numbers; `None` before any epoch.
    ///
    /// ```
    /// use constnet::train::{EpochStats, History};
    /// assert!(History::default().last().is_none());
    /// let epoch = |epoch| EpochStats {
    ///     epoch,
    ///     train_loss: 1.0 / epoch as f64,
    ///     train_accuracy: None,
    ///     val_loss: None,
    ///     val_accuracy: None,
    ///     learning_rate: 0.1,
    ///     seconds: 0.0,
    /// };
    /// let history = History { epochs: vec![epoch(1), epoch(2)], updates: Vec::new() };
    /// assert_eq!(history.last().map(|e| e.train_loss), Some(0.5));
    /// ```
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
}

/// Trains `net` on `train` with `optimizer` and `loss` as `config` says, and returns the
/// history. `train` is a [`Labeled`](crate::datasets::Labeled) set for a classifier, with a
/// loss of class labels ([`SoftmaxCrossEntropy`](crate::losses::SoftmaxCrossEntropy),
/// [`MulticlassSvm`](crate::losses::MulticlassSvm)), or a
/// [`Regression`](crate::datasets::Regression) set whose target width is the network's
/// output width, with [`MeanSquaredError`](crate::losses::MeanSquaredError); or either
/// marked as [`Training`](crate::datasets::Training). After each epoch, `val` (if given) is
/// evaluated in evaluation mode: its data loss and, for labels, its accuracy.
///
/// Before the first step, every input of `train` and `val` must be finite and every target
/// valid for the network (labels below its output width, regression targets finite): else
/// [`Error::NonFiniteData`] or [`Error::LabelOutOfRange`] naming the sample's index in its
/// set, with nothing trained; an empty set is [`Error::EmptySet`].
///
/// A NaN or infinite loss stops training with [`Error::Diverged`] naming the epoch and
/// step; a step whose loss was finite but which left a parameter (or a batch norm
/// statistic) NaN or infinite stops it with [`Error::NonFiniteStep`], naming the tensor and
/// whether its gradient was already non-finite. Either way the network's parameters and
/// state are then those from before the update. (The check is one vectorized pass over the
/// parameters per step.)
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
///
/// A regressor, on `y = sin(3x)`:
///
/// ```
/// use constnet::prelude::*;
/// use constnet::datasets::Regression;
/// use constnet::train::{fit, Config, Progress};
/// network! { struct Net { fc1: Dense<1, 16>, act: Tanh, fc2: Dense<16, 1> } }
/// let x = Batch::<f32, 1>::from_fn(200, |_, j| j as f32 / 100.0 - 1.0);
/// let y = x.map(|v| (3.0 * v).sin());
/// let (train, val) = Regression::new(x, y)?.shuffled(0).split(160);
/// let mut net = Net::new(0);
/// let mut adam = AdamConfig::new(1e-2).build()?;
/// let config = Config { progress: Progress::Silent, ..Config::new(100, 20) };
/// let history = fit(&mut net, &mut adam, &MeanSquaredError, &train, Some(&val), &config)?;
/// let (first, last) = (history.epochs[0], history.last().copied().unwrap());
/// assert!(last.val_loss.unwrap() < 0.1 * first.val_loss.unwrap());
/// assert_eq!(last.val_accuracy, None);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn fit<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, O, L>(
    net: &mut N,
    optimizer: &mut O,
    loss: &L,
    train: &D,
    val: Option<&<D as Dataset>::Plain>,
    config: &Config,
) -> Result<History, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    O: Optimizer<T>,
    L: TakesTargets<T, OUT, D::Targets>,
{
    fit_with(net, optimizer, loss, train, val, config, &mut [])
}

/// [`fit`], calling `callbacks` after every step and epoch, in order: each may stop the
/// run ([`Control::Stop`]) and may change the network or the update rule after an epoch
/// ([`EarlyStopping`] restores the best weights when the run ends; [`SaveCheckpoints`]
/// saves them as it goes). An error from a callback ends the run with that error.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::train::{Callback, Control, EpochStats, Progress, fit_with, Config};
/// network! { struct Net { fc1: Dense<2, 16>, act: Relu, fc2: Dense<16, 3> } }
/// /// Stops once the training loss is below 0.5.
/// struct Enough;
/// impl<N, O> Callback<N, O> for Enough {
///     fn after_epoch(&mut self, stats: &EpochStats, _: &mut N, _: &mut O) -> Result<Control, Error> {
///         Ok(if stats.train_loss < 0.5 { Control::Stop } else { Control::Continue })
///     }
/// }
/// let data = constnet::datasets::spiral::<f32>(50, 3, 0);
/// let config = Config { progress: Progress::Silent, ..Config::new(1000, 50) };
/// let mut adam = AdamConfig::new(1e-2).build()?;
/// let history = fit_with(&mut Net::new(0), &mut adam, &SoftmaxCrossEntropy, &data, None, &config, &mut [&mut Enough])?;
/// assert!(history.epochs.len() < 1000 && history.last().unwrap().train_loss < 0.5);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn fit_with<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, O, L>(
    net: &mut N,
    optimizer: &mut O,
    loss: &L,
    train: &D,
    val: Option<&<D as Dataset>::Plain>,
    config: &Config,
    callbacks: &mut [&mut dyn Callback<N, O>],
) -> Result<History, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    O: Optimizer<T>,
    L: TakesTargets<T, OUT, D::Targets>,
{
    check_config::<T>(config)?;
    let samples = train.inputs().ncols();
    check_set::<T, IN, OUT, D>(train.inputs(), train.targets(), "training")?;
    let val = val.map(D::plain_parts);
    if let Some((inputs, targets)) = val {
        check_set::<T, IN, OUT, D>(inputs, targets, "validation")?;
    }
    let mut batches = MiniBatches::new(train, config.batch_size, config.seed)?;
    // A resumed run draws the orders of the epochs before it, as the first run did.
    for _ in 1..config.first_epoch {
        batches.next_epoch();
    }
    let mut run = Run::new(&*net, config, samples, batches.per_epoch())?;
    let mut val_tape = val.map(|(inputs, _)| net.new_tape(inputs.ncols()));
    let mut history = History::default();
    'epochs: for epoch in config.first_epoch..=config.epochs {
        let start = Instant::now();
        if let Some((schedule, Every::Epoch)) = &config.schedule {
            schedule.apply(optimizer, epoch as u64 - 1)?;
        }
        // Dropout's masks of an epoch depend on its number alone, so a resumed run draws
        // the ones the uninterrupted run drew.
        run.tape.reseed_masks(epoch as u64 - 1);
        let (mut loss_sum, mut hits, mut batch_count) = (0.0, Some(0), 0);
        while let Some((x, target)) = batches.next_batch() {
            batch_count += 1;
            let (value, batch_hits) =
                run.step::<N, O, L, D>(net, optimizer, loss, (x, target), (epoch, batch_count))?;
            hits = hits.zip(batch_hits).map(|(a, b)| a + b);
            loss_sum += value;
            for callback in callbacks.iter_mut() {
                if callback.after_step(run.steps, value, &*net)? == Control::Stop {
                    break 'epochs;
                }
            }
        }
        batches.next_epoch();
        let (val_loss, val_accuracy) = match (val, val_tape.as_mut()) {
            (Some((inputs, targets)), Some(val_tape)) => {
                let (value, val_hits) =
                    evaluate::<T, IN, OUT, N, L, D>(net, loss, inputs, targets, val_tape)?;
                let accuracy = val_hits.map(|h| h as f64 / inputs.ncols() as f64);
                (Some(value), accuracy)
            }
            _ => (None, None),
        };
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / batch_count as f64,
            train_accuracy: hits.map(|h| h as f64 / samples as f64),
            val_loss,
            val_accuracy,
            learning_rate: optimizer.learning_rate(),
            seconds: start.elapsed().as_secs_f64(),
        };
        let probe = val.map_or(train.inputs(), |(inputs, _)| inputs);
        run.end_epoch(&stats, &*net, probe, &mut history)?;
        let mut stop = false;
        for callback in callbacks.iter_mut() {
            stop |= callback.after_epoch(&stats, net, optimizer)? == Control::Stop;
        }
        if stop {
            break;
        }
    }
    for callback in callbacks.iter_mut() {
        callback.finish(net, optimizer)?;
    }
    run.finish(&*net)?;
    Ok(history)
}

/// What a [`Callback`] tells the trainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// End the run after this step or epoch (the callbacks' `finish` still runs).
    Stop,
}

/// Code that [`fit_with`] runs after every step and every epoch, with access to the network
/// and the update rule, and that may end the run: early stopping, checkpoints, logs, a
/// user's own. Every method has a default that does nothing.
pub trait Callback<N, O> {
    /// After step `step` (counted over the run, from 1) whose loss (with the penalty) was
    /// `loss`.
    fn after_step(&mut self, step: u64, loss: f64, net: &N) -> Result<Control, Error> {
        let _ = (step, loss, net);
        Ok(Control::Continue)
    }

    /// After an epoch and its validation, with its numbers.
    fn after_epoch(
        &mut self,
        stats: &EpochStats,
        net: &mut N,
        optimizer: &mut O,
    ) -> Result<Control, Error> {
        let _ = (stats, net, optimizer);
        Ok(Control::Continue)
    }

    /// Once, when the run ends normally or by a [`Control::Stop`], before `fit_with` returns.
    fn finish(&mut self, net: &mut N, optimizer: &mut O) -> Result<(), Error> {
        let _ = (net, optimizer);
        Ok(())
    }
}

/// The checks of a config that need no data: at least one epoch, the penalty and the
/// clipping bound valid in the scalar type.
fn check_config<T: Float>(config: &Config) -> Result<(), Error> {
    if config.epochs == 0 {
        return Err(Error::BadHyperparameter {
            name: "epochs",
            value: 0.0,
            expected: "at least 1",
        });
    }
    if !(1..=config.epochs).contains(&config.first_epoch) {
        return Err(Error::BadHyperparameter {
            name: "first_epoch",
            value: config.first_epoch as f64,
            expected: "from 1 to the number of epochs",
        });
    }
    if let Some(regularizer) = &config.regularizer {
        regularizer.check_in::<T>()?;
    }
    if let Some(clip) = &config.clip {
        clip.check_in::<T>()?;
    }
    Ok(())
}

/// The trainer's state across steps: the buffers a step reuses, the copy of the parameters
/// to roll back to, the monitor and recorder when on, the progress report, the step count.
struct Run<'c, T: Float, Tp: Tape<T, IN, OUT>, const IN: usize, const OUT: usize> {
    config: &'c Config,
    tape: Tp,
    grads: Vec<T>,
    last_good: Rollback<T>,
    monitor: Option<UpdateMonitor<T>>,
    recorder: Option<Recorder>,
    report: Report,
    steps: u64,
}

impl<'c, T: Float, Tp: Tape<T, IN, OUT>, const IN: usize, const OUT: usize>
    Run<'c, T, Tp, IN, OUT>
{
    fn new<N: Network<T, IN, OUT, Tape = Tp>>(
        net: &N,
        config: &'c Config,
        samples: usize,
        per_epoch: usize,
    ) -> Result<Self, Error> {
        let recorder = match &config.record {
            Some(record) => {
                // The figures need a font: without one, say so before training.
                #[cfg(feature = "plots")]
                if record.figures {
                    crate::plots::font()?;
                }
                Some(Recorder::create(
                    record,
                    net,
                    config.epochs,
                    config.first_epoch > 1,
                )?)
            }
            None => None,
        };
        Ok(Run {
            config,
            tape: net.new_tape(config.batch_size.min(samples)),
            grads: net.new_grads(),
            last_good: Rollback::new(net),
            monitor: (config.monitor_updates || recorder.is_some())
                .then(|| UpdateMonitor::new(net)),
            recorder,
            report: Report::new(
                config.progress,
                (config.epochs + 1 - config.first_epoch) * per_epoch,
            ),
            steps: ((config.first_epoch - 1) * per_epoch) as u64,
        })
    }

    /// One step on a batch, the `batch`-th of `epoch`: its loss (with the penalty) and, for
    /// labels, how many it classified right. A non-finite loss or parameter ends the run
    /// with the parameters from before the step.
    fn step<N, O, L, D>(
        &mut self,
        net: &mut N,
        optimizer: &mut O,
        loss: &L,
        (x, target): (crate::BatchView<'_, T, IN>, &D::Target),
        (epoch, batch): (usize, usize),
    ) -> Result<(f64, Option<usize>), Error>
    where
        N: Network<T, IN, OUT, Tape = Tp>,
        O: Optimizer<T>,
        D: SetOf<T, IN, OUT>,
        L: TakesTargets<T, OUT, D::Targets>,
    {
        let config = self.config;
        if let Some((schedule, Every::Step)) = &config.schedule {
            schedule.apply(optimizer, self.steps)?;
        }
        let mut value = loss_and_grad(
            net,
            x,
            L::targets(D::targets_for(target)),
            loss,
            &mut self.tape,
            &mut self.grads,
        )?;
        if let Some(regularizer) = &config.regularizer {
            value += regularizer.apply(net, &mut self.grads);
        }
        if let Some(clip) = &config.clip {
            clip.apply(&mut self.grads);
        }
        if !value.is_finite() {
            self.last_good.restore(net);
            self.report.finish();
            return Err(Error::Diverged {
                epoch,
                step: batch,
                loss: value.as_f64(),
            });
        }
        let hits = D::count_correct(self.tape.output(), target);
        self.last_good.save(net);
        optimizer.step(net.params_mut(), &self.grads)?;
        if let Some(monitor) = self.monitor.as_mut() {
            // `last_good` holds the parameters from before this step.
            monitor.record(&self.last_good.params, net.params(), &self.grads);
        }
        if let Some(max_norm) = &config.max_norm {
            max_norm.apply(net);
        }
        if let Some(bad) = NonFinite::find(&*net) {
            let error = bad.error(&*net, &self.grads, (epoch, batch));
            self.last_good.restore(net);
            self.report.finish();
            return Err(error);
        }
        self.steps += 1;
        if let (Some(recorder), Some(monitor)) = (self.recorder.as_mut(), self.monitor.as_ref()) {
            recorder.step(&StepRow {
                epoch,
                step: self.steps,
                loss: value.as_f64(),
                accuracy: hits.map(|h| h as f64 / x.ncols() as f64),
                learning_rate: optimizer.learning_rate(),
                tensors: monitor.tensors(),
            })?;
        }
        self.report.step(value.as_f64(), x.ncols());
        Ok((value.as_f64(), hits))
    }

    /// After an epoch: its line, its entry in `history`, and its records (with histograms
    /// of every layer's output over `probe` when it is one of the chosen epochs).
    fn end_epoch<N: Network<T, IN, OUT, Tape = Tp>>(
        &mut self,
        stats: &EpochStats,
        net: &N,
        probe: &Batch<T, IN>,
        history: &mut History,
    ) -> Result<(), Error> {
        self.report.epoch(stats, self.config.epochs);
        history.epochs.push(*stats);
        if let Some(monitor) = &self.monitor {
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.epoch(
                    stats,
                    self.steps,
                    monitor.tensors(),
                    net,
                    &self.grads,
                    probe,
                )?;
            }
            if self.config.monitor_updates {
                history.updates.push(monitor.tensors().to_vec());
            }
        }
        Ok(())
    }

    /// After the last epoch: the report's end, and the run's last files.
    fn finish<N: Network<T, IN, OUT, Tape = Tp>>(&mut self, net: &N) -> Result<(), Error> {
        self.report.finish();
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.first_layer(net)?;
            recorder.finish()?;
            #[cfg(feature = "plots")]
            if let Some(record) = self.config.record.as_ref().filter(|r| r.figures) {
                crate::plots::render(&record.dir)?;
            }
        }
        Ok(())
    }
}

/// A set's checks before training: not empty, every input finite, every target valid for
/// `OUT` outputs.
fn check_set<T, const IN: usize, const OUT: usize, D>(
    inputs: &Batch<T, IN>,
    targets: &D::Target,
    set: &'static str,
) -> Result<(), Error>
where
    T: Float,
    D: Supervised<T, IN>,
{
    if inputs.ncols() == 0 {
        return Err(Error::EmptySet { set });
    }
    check_finite(inputs, set, "input")?;
    D::check_targets(targets, OUT, set)
}

/// The parameters and state from before the last update, to go back to when a step goes
/// wrong.
struct Rollback<T> {
    params: Vec<T>,
    state: Vec<T>,
}

impl<T: Float> Rollback<T> {
    fn new<const IN: usize, const OUT: usize>(net: &impl Network<T, IN, OUT>) -> Self {
        Rollback {
            params: net.params().to_vec(),
            state: net.state().to_vec(),
        }
    }

    fn save<const IN: usize, const OUT: usize>(&mut self, net: &impl Network<T, IN, OUT>) {
        self.params.copy_from_slice(net.params());
        self.state.copy_from_slice(net.state());
    }

    fn restore<const IN: usize, const OUT: usize>(&self, net: &mut impl Network<T, IN, OUT>) {
        net.params_mut().copy_from_slice(&self.params);
        net.state_mut().copy_from_slice(&self.state);
    }
}

/// A non-finite value an update left: its index in the parameters (or the state).
struct NonFinite {
    index: usize,
    in_state: bool,
    value: f64,
}

impl NonFinite {
    /// The first non-finite parameter, or else state element, of `net`.
    fn find<T: Float, const IN: usize, const OUT: usize>(
        net: &impl Network<T, IN, OUT>,
    ) -> Option<Self> {
        let first = |values: &[T], in_state| {
            let index = first_non_finite(values)?;
            Some(NonFinite {
                index,
                in_state,
                value: values[index].as_f64(),
            })
        };
        first(net.params(), false).or_else(|| first(net.state(), true))
    }

    /// The error for the update made at `(epoch, step)`, naming the tensor and whether its
    /// gradient (still in `grads`) was already non-finite there.
    fn error<T: Float, const IN: usize, const OUT: usize>(
        &self,
        net: &impl Network<T, IN, OUT>,
        grads: &[T],
        (epoch, step): (usize, usize),
    ) -> Error {
        let mut tensor = String::from("?");
        let mut find = |t: TensorRef| {
            if (t.offset..t.offset + t.spec.len()).contains(&self.index) {
                tensor = format!("{}.{}", t.layer, t.spec.name);
            }
        };
        let what = if self.in_state {
            net.for_each_state_tensor(&mut find);
            "state"
        } else {
            net.for_each_tensor(&mut find);
            match grads.get(self.index) {
                Some(g) if !g.is_finite() => "the gradient of",
                _ => "parameter",
            }
        };
        Error::NonFiniteStep {
            what,
            tensor,
            epoch,
            step,
            value: self.value,
        }
    }
}

/// The data loss of the whole set `inputs` with `targets` (of a set of kind `D`) in
/// evaluation mode, and the count of samples right where its targets have one.
fn evaluate<T, const IN: usize, const OUT: usize, N, L, D>(
    net: &N,
    loss: &L,
    inputs: &Batch<T, IN>,
    targets: &D::Target,
    tape: &mut N::Tape,
) -> Result<(f64, Option<usize>), Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    L: TakesTargets<T, OUT, D::Targets>,
    D: SetOf<T, IN, OUT>,
{
    net.forward_into(inputs.as_batch(), tape)?;
    let (scores, dscores) = tape.output_and_grad_mut();
    let value = loss.loss_and_grad(scores, L::targets(D::targets_for(targets)), dscores)?;
    Ok((value.as_f64(), D::count_correct(scores, targets)))
}

/// The progress bar or the log lines.
struct Report {
    bar: Option<Bar>,
    lines: bool,
}

/// A progress bar of the training steps on standard error, drawn by constnet itself (a
/// carriage return and a line at most ten times a second): steps done, the last step's
/// loss, samples per second and the time left.
struct Bar {
    total: u64,
    start: Instant,
    state: std::cell::Cell<BarState>,
}

#[derive(Clone, Copy)]
struct BarState {
    done: u64,
    samples: u64,
    loss: f64,
    drawn: Option<Instant>,
}

impl Bar {
    /// A bar of `steps` steps when standard error is a terminal (not a pipe or a file) and
    /// the run is not in CI (`CI` set) or on a dumb terminal; else none.
    fn new(steps: usize) -> Option<Bar> {
        use std::io::IsTerminal;
        let quiet =
            std::env::var_os("CI").is_some() || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        (std::io::stderr().is_terminal() && !quiet).then(|| Bar {
            total: steps as u64,
            start: Instant::now(),
            state: std::cell::Cell::new(BarState {
                done: 0,
                samples: 0,
                loss: f64::NAN,
                drawn: None,
            }),
        })
    }

    fn step(&self, loss: f64, samples: usize) {
        let mut state = self.state.get();
        state.done += 1;
        state.samples += samples as u64;
        state.loss = loss;
        let due = state.drawn.is_none_or(|t| t.elapsed().as_millis() >= 100);
        if due || state.done == self.total {
            state.drawn = Some(Instant::now());
            self.draw(&state);
        }
        self.state.set(state);
    }

    fn draw(&self, state: &BarState) {
        let line = render_bar(
            state.done,
            self.total,
            state.loss,
            state.samples,
            self.start.elapsed().as_secs_f64(),
        );
        eprint!("\r{line}\x1b[K");
    }

    /// Prints `line` above the bar.
    fn println(&self, line: &str) {
        eprintln!("\r\x1b[K{line}");
        self.draw(&self.state.get());
    }

    fn clear(&self) {
        eprint!("\r\x1b[K");
    }
}

/// The bar's text: `[=====>    ] 120/860 steps, loss 0.1234, 15,000 samples/s, 12 s left`.
fn render_bar(done: u64, total: u64, loss: f64, samples: u64, seconds: f64) -> String {
    const WIDTH: u64 = 30;
    let filled = (WIDTH * done)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let mut bar = "=".repeat(filled as usize);
    if filled < WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat((WIDTH - filled - 1) as usize));
    }
    let rate = if seconds > 0.0 {
        samples as f64 / seconds
    } else {
        0.0
    };
    let left = if done > 0 && done < total {
        format!(
            ", {:.0} s left",
            seconds / done as f64 * (total - done) as f64
        )
    } else {
        String::new()
    };
    format!("[{bar}] {done}/{total} steps, loss {loss:.4}, {rate:.0} samples/s{left}")
}

impl Report {
    fn new(progress: Progress, steps: usize) -> Self {
        match progress {
            Progress::Auto => Report {
                bar: Bar::new(steps),
                lines: true,
            },
            Progress::Lines => Report {
                bar: None,
                lines: true,
            },
            Progress::Silent => Report {
                bar: None,
                lines: false,
            },
        }
    }

    fn step(&self, loss: f64, samples: usize) {
        if let Some(bar) = &self.bar {
            bar.step(loss, samples);
        }
    }

    fn epoch(&self, stats: &EpochStats, epochs: usize) {
        if !self.lines {
            return;
        }
        let percent = |label: &str, value: Option<f64>| {
            value.map_or(String::new(), |v| format!(", {label} {:.2}%", 100.0 * v))
        };
        let val_loss = stats
            .val_loss
            .map_or(String::new(), |v| format!(", val loss {v:.4}"));
        let line = format!(
            "epoch {}/{epochs}: loss {:.4}{}{val_loss}{}, lr {:.3e}, {:.1} s",
            stats.epoch,
            stats.train_loss,
            percent("train acc", stats.train_accuracy),
            percent("val acc", stats.val_accuracy),
            stats.learning_rate,
            stats.seconds
        );
        match &self.bar {
            Some(bar) => bar.println(&line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::render_bar;

    #[test]
    fn the_bar_shows_steps_loss_speed_and_time_left() {
        let line = render_bar(100, 400, 0.12345, 6400, 2.0);
        assert_eq!(
            line,
            "[=======>                      ] 100/400 steps, loss 0.1235, 3200 samples/s, 6 s left"
        );
        let done = render_bar(400, 400, 0.01, 25_600, 8.0);
        assert!(
            done.starts_with(&format!("[{}] 400/400", "=".repeat(30))),
            "{done}"
        );
        assert!(!done.contains("left"));
        assert!(render_bar(0, 0, f64::NAN, 0, 0.0).starts_with("[==="));
    }
}
