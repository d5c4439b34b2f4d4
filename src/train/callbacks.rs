//! The trainer's built-in callbacks: early stopping on a metric with patience, restoring the
//! best weights, and checkpoints saved as training goes (the last few epochs, and the best).

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use super::{Callback, Control, EpochStats};
use crate::error::Error;
use crate::network::AnyNetwork;
use crate::optim::Optimizer;
use crate::scalar::Float;

/// A number of each epoch that a callback watches.
///
/// ```
/// use constnet::train::{EpochStats, Metric};
/// let stats = EpochStats {
///     epoch: 1, train_loss: 0.5, train_accuracy: Some(0.8), val_loss: Some(0.6),
///     val_accuracy: None, learning_rate: 0.1, seconds: 1.0,
/// };
/// assert_eq!(Metric::ValLoss.of(&stats), Some(0.6));
/// assert_eq!(Metric::ValAccuracy.of(&stats), None); // no validation accuracy (a regressor)
/// assert!(Metric::ValAccuracy.higher_is_better() && !Metric::TrainLoss.higher_is_better());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// [`EpochStats::val_loss`]: lower is better.
    ValLoss,
    /// [`EpochStats::val_accuracy`]: higher is better.
    ValAccuracy,
    /// [`EpochStats::train_loss`]: lower is better.
    TrainLoss,
    /// [`EpochStats::train_accuracy`]: higher is better.
    TrainAccuracy,
}

impl Metric {
    /// The metric's value in `stats`, `None` when the epoch has none.
    pub fn of(self, stats: &EpochStats) -> Option<f64> {
        match self {
            Metric::ValLoss => stats.val_loss,
            Metric::ValAccuracy => stats.val_accuracy,
            Metric::TrainLoss => Some(stats.train_loss),
            Metric::TrainAccuracy => stats.train_accuracy,
        }
    }

    /// Whether a larger value is better (accuracies) rather than a smaller one (losses).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::ValAccuracy | Metric::TrainAccuracy)
    }

    fn name(self) -> &'static str {
        match self {
            Metric::ValLoss => "validation loss",
            Metric::ValAccuracy => "validation accuracy",
            Metric::TrainLoss => "training loss",
            Metric::TrainAccuracy => "training accuracy",
        }
    }

    /// The metric's value, or an error saying why an epoch has none.
    fn required(self, stats: &EpochStats) -> Result<f64, Error> {
        self.of(stats).ok_or_else(|| Error::NotApplicable {
            what: format!(
                "watching the {} needs a run that has it (a validation set for the \
                 validation metrics, class labels for the accuracies)",
                self.name()
            ),
        })
    }

    /// Whether `value` improves on `best` by more than `min_delta`.
    fn improves(self, value: f64, best: f64, min_delta: f64) -> bool {
        if self.higher_is_better() {
            value > best + min_delta
        } else {
            value < best - min_delta
        }
    }
}

/// Stops training when `metric` has not improved (by more than `min_delta`) for
/// `patience` epochs in a row, and when the run ends puts the network's parameters and
/// state back to those of its best epoch.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::train::{Config, EarlyStopping, Metric, Progress, fit_with};
/// network! { struct Net { fc1: Dense<2, 64>, act: Relu, fc2: Dense<64, 3> } }
/// let (train, val) = constnet::datasets::spiral::<f32>(100, 3, 0).shuffled(0).split(240);
/// let mut stopping = EarlyStopping::new(Metric::ValLoss, 5)?;
/// let config = Config { progress: Progress::Silent, ..Config::new(2000, 30) };
/// let mut adam = AdamConfig::new(1e-2).build()?;
/// let mut net = Net::new(0);
/// let history = fit_with(&mut net, &mut adam, &SoftmaxCrossEntropy, &train, Some(&val), &config, &mut [&mut stopping])?;
/// let best = stopping.best_epoch().unwrap();
/// assert_eq!(stopping.stopped_at(), Some(best + 5)); // five epochs without improvement
/// assert_eq!(history.epochs.len(), best + 5);
/// let restored = net.accuracy(&val.inputs, &val.labels)?;
/// assert_eq!(Some(restored), history.epochs[best - 1].val_accuracy); // the best epoch's weights
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping<T> {
    metric: Metric,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
    best: Option<(f64, usize)>,
    waited: usize,
    stopped_at: Option<usize>,
    params: Vec<T>,
    state: Vec<T>,
}

impl<T: Float> EarlyStopping<T> {
    /// Stopping after `patience` (at least 1) epochs without improvement of `metric`, any
    /// improvement counting, restoring the best weights at the end.
    ///
    /// ```
    /// use constnet::train::{EarlyStopping, Metric};
    /// assert!(EarlyStopping::<f32>::new(Metric::ValLoss, 0).is_err());
    /// ```
    pub fn new(metric: Metric, patience: usize) -> Result<Self, Error> {
        if patience == 0 {
            return Err(Error::BadHyperparameter {
                name: "early stopping patience",
                value: 0.0,
                expected: "at least 1 epoch",
            });
        }
        Ok(EarlyStopping {
            metric,
            patience,
            min_delta: 0.0,
            restore_best: true,
            best: None,
            waited: 0,
            stopped_at: None,
            params: Vec::new(),
            state: Vec::new(),
        })
    }

    /// Counts only improvements larger than `min_delta` (non-negative, finite).
    ///
    /// ```
    /// use constnet::train::{EarlyStopping, Metric};
    /// assert!(EarlyStopping::<f32>::new(Metric::ValLoss, 3)?.min_delta(-1.0).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn min_delta(self, min_delta: f64) -> Result<Self, Error> {
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(Error::BadHyperparameter {
                name: "early stopping min_delta",
                value: min_delta,
                expected: "non-negative and finite",
            });
        }
        Ok(EarlyStopping { min_delta, ..self })
    }

    /// Leaves the network as the last epoch left it instead of restoring the best weights.
    pub fn keep_last_weights(self) -> Self {
        EarlyStopping {
            restore_best: false,
            ..self
        }
    }

    /// The epoch (from 1) with the best value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(_, epoch)| epoch)
    }

    /// The best value so far.
    pub fn best_value(&self) -> Option<f64> {
        self.best.map(|(value, _)| value)
    }

    /// The epoch after which it stopped the run, if it did.
    pub fn stopped_at(&self) -> Option<usize> {
        self.stopped_at
    }
}

impl<T, N, O> Callback<N, O> for EarlyStopping<T>
where
    T: Float,
    N: AnyNetwork<T>,
{
    fn after_epoch(
        &mut self,
        stats: &EpochStats,
        net: &mut N,
        _: &mut O,
    ) -> Result<Control, Error> {
        let value = self.metric.required(stats)?;
        let improved = match self.best {
            None => true,
            Some((best, _)) => self.metric.improves(value, best, self.min_delta),
        };
        if improved {
            self.best = Some((value, stats.epoch));
            self.waited = 0;
            if self.restore_best {
                self.params.clear();
                self.params.extend_from_slice(net.flat_params());
                self.state.clear();
                self.state.extend_from_slice(net.flat_state());
            }
            return Ok(Control::Continue);
        }
        self.waited += 1;
        if self.waited >= self.patience {
            self.stopped_at = Some(stats.epoch);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }

    fn finish(&mut self, net: &mut N, _: &mut O) -> Result<(), Error> {
        if self.restore_best && self.best.is_some() && self.params.len() == net.flat_params().len()
        {
            net.flat_params_mut().copy_from_slice(&self.params);
            net.flat_state_mut().copy_from_slice(&self.state);
        }
        Ok(())
    }
}

/// Saves checkpoints as training goes, in a directory it creates: after every epoch
/// `epoch-<E>.safetensors` (the network and the update rule's state, with metadata `epoch`,
/// for [`Checkpoint::restore_with_optimizer`](crate::Checkpoint::restore_with_optimizer)),
/// keeping the last `keep_last` of them, and, when asked to watch a metric, `best.safetensors` (the network alone, as PyTorch's
/// `model.state_dict()` is kept apart from the optimizer's) whenever it improves. Each save
/// replaces its file whole or not at all ([`Checkpoint::save`](crate::Checkpoint::save)).
///
/// ```
/// use constnet::prelude::*;
/// use constnet::Checkpoint;
/// use constnet::train::{Config, Metric, Progress, SaveCheckpoints, fit_with};
/// network! { struct Net { fc1: Dense<2, 16>, act: Relu, fc2: Dense<16, 3> } }
/// let (train, val) = constnet::datasets::spiral::<f32>(50, 3, 0).shuffled(0).split(120);
/// let dir = std::env::temp_dir().join(format!("constnet-doc-saves-{}", std::process::id()));
/// let mut saves = SaveCheckpoints::new(&dir).keep_last(2)?.keep_best(Metric::ValAccuracy);
/// let config = Config { progress: Progress::Silent, ..Config::new(5, 30) };
/// let mut net = Net::new(0);
/// fit_with(&mut net, &mut Sgd::new(0.5)?, &SoftmaxCrossEntropy, &train, Some(&val), &config, &mut [&mut saves])?;
/// let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap()
///     .map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
/// names.sort();
/// assert_eq!(names, ["best.safetensors", "epoch-4.safetensors", "epoch-5.safetensors"]);
/// let last = Checkpoint::load(dir.join("epoch-5.safetensors"))?;
/// assert_eq!(last.metadata("epoch"), Some("5"));
/// let mut resumed = Net::new(1);
/// last.restore_with_optimizer(&mut resumed, &mut Sgd::new(0.5)?)?;
/// assert_eq!(resumed.params(), net.params());
/// std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SaveCheckpoints<T> {
    dir: PathBuf,
    keep_last: usize,
    best: Option<(Metric, Option<f64>)>,
    saved: VecDeque<PathBuf>,
    scalar: PhantomData<T>,
}

impl<T: Float> SaveCheckpoints<T> {
    /// Saving into `dir`, keeping the last 3 epochs' checkpoints, watching no metric.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        SaveCheckpoints {
            dir: dir.as_ref().to_path_buf(),
            keep_last: 3,
            best: None,
            saved: VecDeque::new(),
            scalar: PhantomData,
        }
    }

    /// Keeps the last `count` (at least 1) epochs' checkpoints, deleting older ones.
    ///
    /// ```
    /// assert!(constnet::train::SaveCheckpoints::<f32>::new("runs").keep_last(0).is_err());
    /// ```
    pub fn keep_last(self, count: usize) -> Result<Self, Error> {
        if count == 0 {
            return Err(Error::BadHyperparameter {
                name: "checkpoints to keep",
                value: 0.0,
                expected: "at least 1",
            });
        }
        Ok(SaveCheckpoints {
            keep_last: count,
            ..self
        })
    }

    /// Also saves `best.safetensors` whenever `metric` improves.
    pub fn keep_best(self, metric: Metric) -> Self {
        SaveCheckpoints {
            best: Some((metric, None)),
            ..self
        }
    }

    fn create_dir(&self) -> Result<(), Error> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }
}

impl<T, N, O> Callback<N, O> for SaveCheckpoints<T>
where
    T: Float,
    N: AnyNetwork<T>,
    O: Optimizer<T>,
{
    fn after_epoch(
        &mut self,
        stats: &EpochStats,
        net: &mut N,
        optimizer: &mut O,
    ) -> Result<Control, Error> {
        self.create_dir()?;
        let epoch = stats.epoch.to_string();
        let mut checkpoint = net.to_checkpoint().with_optimizer(&*optimizer);
        checkpoint.set_metadata("epoch", &epoch);
        let path = self.dir.join(format!("epoch-{epoch}.safetensors"));
        checkpoint.save(&path)?;
        self.saved.push_back(path);
        while self.saved.len() > self.keep_last {
            if let Some(old) = self.saved.pop_front() {
                std::fs::remove_file(&old).map_err(|e| Error::io(&old, e))?;
            }
        }
        if let Some((metric, best)) = &mut self.best {
            let value = metric.required(stats)?;
            if best.is_none_or(|b| metric.improves(value, b, 0.0)) {
                *best = Some(value);
                let mut model = net.to_checkpoint();
                model.set_metadata("epoch", &epoch);
                model.save(self.dir.join("best.safetensors"))?;
            }
        }
        Ok(Control::Continue)
    }
}
