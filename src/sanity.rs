//! The sanity checks the CS231n notes ask for before a long run ("Before learning: sanity
//! checks"), as calls that each return a [`Check`]: whether it passed, the numbers it
//! measured and the criterion, in a line that reads well.
//!
//! | check | passes when |
//! |---|---|
//! | [`loss_at_chance`] | the untrained network's loss, regularization off, is the loss's value at chance (`ln K` for softmax, `K - 1` for the SVM) within a stated relative tolerance |
//! | [`regularization_raises_loss`] | the loss plus a penalty rises with the penalty's strength (0, then the strength, then ten times it) |
//! | [`overfit_small`] | a copy trained on a few samples (20 by default, regularization off) reaches a loss near zero and 100% training accuracy within a step budget |
//! | [`learns_beyond_chance`] | a copy trained briefly on part of the data classifies held-out samples better than always answering the most frequent class |
//! | [`gradients`] | the analytic gradient matches centered differences on a few samples ([`GradCheck`]) |
//!
//! [`run`] runs all five. None of them changes the network or update rule it is given:
//! the training checks train copies. A broken setup fails at least one: a learning rate far
//! too small fails the overfitting check, labels shuffled against their inputs the
//! held-out one (a network can memorize 20 random labels, so overfitting alone does not
//! show it), a backward pass that is wrong the gradient check.
//!
//! ```
//! use constnet::prelude::*;
//! use constnet::sanity;
//! network! { struct Net { fc1: Dense<2, 64>, relu: Relu, fc2: Dense<64, 3> } }
//! let data = constnet::datasets::spiral::<f32>(100, 3, 0).shuffled(1);
//! let net = Net::new(0);
//! let adam = AdamConfig::new(1e-2).build::<f32>()?;
//! let options = sanity::Options { held_out_epochs: 100, ..sanity::Options::default() };
//! let report = sanity::run(&net, &net.cast::<f64>(), &adam, &SoftmaxCrossEntropy, &data, &options)?;
//! assert!(report.passed(), "{report}");
//! assert_eq!(report.checks.len(), 5);
//! # Ok::<(), constnet::Error>(())
//! ```

// The set's width bound is a function's first generic parameter, so that the note of a set
// of another width quotes one line; its targets' bound is in the `where` clause.
#![allow(clippy::multiple_bound_locations)]

use std::fmt;
use std::ops::Range;

use crate::batch::Batch;
use crate::datasets::{Dataset, Labeled, SetOf, Supervised};
use crate::error::Error;
use crate::gradcheck::{self, GradCheck};
use crate::losses::Loss;
use crate::network::{Network, OnBatch};
use crate::optim::Optimizer;
use crate::regularize::{Penalty, Regularizer};
use crate::scalar::Float;

/// The outcome of one sanity check.
///
/// ```
/// let check = constnet::sanity::Check {
///     name: "loss at chance",
///     passed: true,
///     detail: "2.3071; ln 10 = 2.3026 within 10%".into(),
/// };
/// assert_eq!(check.to_string(), "pass  loss at chance: 2.3071; ln 10 = 2.3026 within 10%");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Which check.
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What it measured and what it expected.
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "pass" } else { "FAIL" };
        write!(f, "{verdict}  {}: {}", self.name, self.detail)
    }
}

/// The checks [`run`] ran, in order.
///
/// ```
/// use constnet::sanity::{Check, Report};
/// let check = |passed| Check { name: "x", passed, detail: String::new() };
/// let report = Report { checks: vec![check(true), check(false)] };
/// assert!(!report.passed());
/// assert_eq!(report.to_string().lines().last(), Some("1 of 2 checks FAILED"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Every check, in the order they ran.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    ///
    /// ```
    /// assert!(constnet::sanity::Report { checks: vec![] }.passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(f, "{check}")?;
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        if failed == 0 {
            write!(f, "all {} checks passed", self.checks.len())
        } else {
            write!(f, "{failed} of {} checks FAILED", self.checks.len())
        }
    }
}

/// What the checks do; the defaults are the notes' (20 samples to overfit) or chosen to run
/// in a second or two on MNIST.
///
/// ```
/// let options = constnet::sanity::Options::default();
/// assert_eq!((options.overfit_samples, options.chance_tolerance), (20, 0.1));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// How many samples (the first ones) the loss-at-chance and regularization checks
    /// evaluate.
    pub chance_samples: usize,
    /// The relative tolerance of the loss at chance: `|loss - chance| <= tolerance * chance`.
    pub chance_tolerance: f64,
    /// The penalty whose strength the regularization check raises (0, it, 10 times it).
    pub regularizer: Regularizer,
    /// How many samples (the first ones) the overfitting check trains on.
    pub overfit_samples: usize,
    /// Full-batch steps the overfitting check may take.
    pub overfit_steps: usize,
    /// The training loss the overfitting check must get below (with 100% accuracy).
    pub overfit_loss: f64,
    /// How many samples (the first ones) the held-out check trains on; the next
    /// `held_out_samples` are the held-out ones.
    pub held_out_train: usize,
    /// How many samples the held-out check evaluates on.
    pub held_out_samples: usize,
    /// Epochs of the held-out check's training.
    pub held_out_epochs: usize,
    /// Its mini-batch size.
    pub held_out_batch: usize,
    /// How far above the most frequent class's share the held-out accuracy must be.
    pub held_out_margin: f64,
    /// How many samples (the first ones) the gradient check uses, and its options.
    pub gradient_samples: usize,
    /// The gradient check's options (step, tolerance, elements per tensor).
    pub gradcheck: gradcheck::Options,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            chance_samples: 1000,
            chance_tolerance: 0.1,
            regularizer: Regularizer::l2(1e-3).expect("a valid strength"),
            overfit_samples: 20,
            overfit_steps: 300,
            overfit_loss: 0.01,
            held_out_train: 1000,
            held_out_samples: 500,
            held_out_epochs: 5,
            held_out_batch: 50,
            held_out_margin: 0.1,
            gradient_samples: 4,
            gradcheck: gradcheck::Options::default(),
        }
    }
}

/// The samples of `data` in `range`, as a plain labeled set.
fn rows<D, T, const IN: usize>(data: &D, range: Range<usize>) -> Result<Labeled<T, IN>, Error>
where
    D: Supervised<T, IN> + Dataset<Target = [usize]>,
    T: Float,
{
    let inputs = data.inputs().columns(range.start, range.len()).into_owned();
    Labeled::new(inputs, data.targets()[range].to_vec())
}

/// The first `n` samples (all of a smaller set), refusing an empty one.
fn first<D, T, const IN: usize>(data: &D, n: usize) -> Result<Labeled<T, IN>, Error>
where
    D: Supervised<T, IN> + Dataset<Target = [usize]>,
    T: Float,
{
    let n = n.min(data.inputs().ncols());
    if n == 0 {
        return Err(Error::EmptySet {
            set: "sanity check",
        });
    }
    rows(data, 0..n)
}

/// The loss of `net` in evaluation mode on `data`, without regularization.
fn data_loss<T, const IN: usize, const OUT: usize, N, L>(
    net: &N,
    data: &Labeled<T, IN>,
    loss: &L,
) -> Result<f64, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    L: Loss<T, OUT, Target = [usize]>,
{
    let scores = net.forward_batch(&data.inputs);
    let mut dscores = Batch::<T, OUT>::zeros(scores.ncols());
    let n = scores.ncols();
    let value = loss.loss_and_grad(
        scores.columns(0, n),
        &data.labels,
        dscores.columns_mut(0, n),
    )?;
    Ok(value.as_f64())
}

/// The untrained network's loss on the first [`Options::chance_samples`], regularization
/// off, against the loss's value at chance ([`Loss::chance_loss`]). A network whose initial
/// weights are too large starts confident and fails it.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::sanity::{Options, loss_at_chance};
/// network! { struct Net { fc1: Dense<2, 16>, relu: Relu, fc2: Dense<16, 3> } }
/// let data = constnet::datasets::spiral::<f32>(50, 3, 0);
/// let check = loss_at_chance(&Net::new(0), &data, &SoftmaxCrossEntropy, &Options::default())?;
/// assert!(check.passed, "{check}");
/// let mut loud = Net::new(0);
/// loud.params_mut().iter_mut().for_each(|w| *w *= 30.0); // far from small
/// assert!(!loss_at_chance(&loud, &data, &SoftmaxCrossEntropy, &Options::default())?.passed);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn loss_at_chance<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, L>(
    net: &N,
    data: &D,
    loss: &L,
    options: &Options,
) -> Result<Check, Error>
where
    D: Dataset<Target = [usize]>,
    T: Float,
    N: Network<T, IN, OUT>,
    L: Loss<T, OUT, Target = [usize]>,
{
    let chance = loss.chance_loss().ok_or_else(|| Error::NotApplicable {
        what: "the loss-at-chance check needs a loss that states its value at chance \
               (`SoftmaxCrossEntropy`, `MulticlassSvm`)"
            .into(),
    })?;
    let tolerance = options.chance_tolerance;
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(Error::BadHyperparameter {
            name: "chance_tolerance",
            value: tolerance,
            expected: "a positive, finite number",
        });
    }
    let subset = first(data, options.chance_samples)?;
    let measured = data_loss(net, &subset, loss)?;
    let off = (measured - chance).abs() / chance;
    Ok(Check {
        name: "loss at chance",
        passed: off <= tolerance,
        detail: format!(
            "{measured:.4} on {} samples; expected {chance:.4} within {}% (off by {:.1}%)",
            subset.len(),
            tolerance * 100.0,
            off * 100.0
        ),
    })
}

/// `regularizer` with its strengths multiplied by `factor`.
fn scaled(regularizer: &Regularizer, factor: f64) -> Result<Regularizer, Error> {
    let penalty = match regularizer.penalty() {
        Penalty::L2 { lambda } => Penalty::L2 {
            lambda: lambda * factor,
        },
        Penalty::L1 { lambda } => Penalty::L1 {
            lambda: lambda * factor,
        },
        Penalty::ElasticNet { l1, l2 } => Penalty::ElasticNet {
            l1: l1 * factor,
            l2: l2 * factor,
        },
    };
    let scaled = Regularizer::new(penalty)?;
    Ok(if regularizer.regularizes_biases() {
        scaled.with_biases()
    } else {
        scaled
    })
}

/// The loss plus [`Options::regularizer`]'s penalty at strength 0, at its strength, and at
/// ten times it, on the first [`Options::chance_samples`]: each must be larger than the one
/// before.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::sanity::{Options, regularization_raises_loss};
/// network! { struct Net { fc1: Dense<2, 16>, relu: Relu, fc2: Dense<16, 3> } }
/// let data = constnet::datasets::spiral::<f32>(50, 3, 0);
/// let check = regularization_raises_loss(&Net::new(0), &data, &SoftmaxCrossEntropy, &Options::default())?;
/// assert!(check.passed, "{check}");
/// let zero = Options { regularizer: Regularizer::l2(0.0)?, ..Options::default() };
/// assert!(!regularization_raises_loss(&Net::new(0), &data, &SoftmaxCrossEntropy, &zero)?.passed);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn regularization_raises_loss<
    D: SetOf<T, IN, OUT>,
    T,
    const IN: usize,
    const OUT: usize,
    N,
    L,
>(
    net: &N,
    data: &D,
    loss: &L,
    options: &Options,
) -> Result<Check, Error>
where
    D: Dataset<Target = [usize]>,
    T: Float,
    N: Network<T, IN, OUT>,
    L: Loss<T, OUT, Target = [usize]>,
{
    options.regularizer.check_in::<T>()?;
    let subset = first(data, options.chance_samples)?;
    let base = data_loss(net, &subset, loss)?;
    let once = base + options.regularizer.value(net).as_f64();
    let tenfold = base + scaled(&options.regularizer, 10.0)?.value(net).as_f64();
    Ok(Check {
        name: "regularization raises the loss",
        passed: base < once && once < tenfold,
        detail: format!(
            "{base:.4} without, {once:.4} with {:?}, {tenfold:.4} at ten times it",
            options.regularizer.penalty()
        ),
    })
}

/// Trains a copy of `net` with a copy of `optimizer` on the first
/// [`Options::overfit_samples`] (full batch, regularization off) for at most
/// [`Options::overfit_steps`] steps: it must reach a training loss below
/// [`Options::overfit_loss`] with every sample classified right.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::sanity::{Options, overfit_small};
/// network! { struct Net { fc1: Dense<2, 64>, relu: Relu, fc2: Dense<64, 3> } }
/// let data = constnet::datasets::spiral::<f32>(50, 3, 0).shuffled(0);
/// let adam = AdamConfig::new(1e-2).build::<f32>()?;
/// let check = overfit_small(&Net::new(0), &adam, &SoftmaxCrossEntropy, &data, &Options::default())?;
/// assert!(check.passed, "{check}");
/// let crawl = Sgd::new(1e-9)?; // a learning rate far too small
/// assert!(!overfit_small(&Net::new(0), &crawl, &SoftmaxCrossEntropy, &data, &Options::default())?.passed);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn overfit_small<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, O, L>(
    net: &N,
    optimizer: &O,
    loss: &L,
    data: &D,
    options: &Options,
) -> Result<Check, Error>
where
    D: Dataset<Target = [usize]>,
    T: Float,
    N: Network<T, IN, OUT>,
    O: Optimizer<T> + Clone,
    L: Loss<T, OUT, Target = [usize]>,
{
    let subset = first(data, options.overfit_samples)?;
    let (mut net, mut optimizer) = (net.clone(), optimizer.clone());
    let mut tape = net.new_tape(subset.len());
    let mut grads = net.new_grads();
    let (mut value, mut accuracy) = (f64::INFINITY, 0.0);
    for step in 0..options.overfit_steps {
        value = net
            .loss_and_grad(
                &subset.inputs,
                &subset.labels[..],
                loss,
                &mut tape,
                &mut grads,
            )?
            .as_f64();
        accuracy = net.accuracy(&subset.inputs, &subset.labels)?;
        if value < options.overfit_loss && accuracy == 1.0 {
            return Ok(Check {
                name: "overfits a small subset",
                passed: true,
                detail: format!(
                    "loss {value:.4} and 100% accuracy on {} samples after {step} of {} steps",
                    subset.len(),
                    options.overfit_steps
                ),
            });
        }
        optimizer.step(net.params_mut(), &grads)?;
    }
    Ok(Check {
        name: "overfits a small subset",
        passed: false,
        detail: format!(
            "after {} steps on {} samples: loss {value:.4} (must be below {}), accuracy {:.0}% \
             (must be 100%); is the learning rate far too small?",
            options.overfit_steps,
            subset.len(),
            options.overfit_loss,
            accuracy * 100.0
        ),
    })
}

/// Trains a copy of `net` with a copy of `optimizer` on the first
/// [`Options::held_out_train`] samples ([`Options::held_out_epochs`] epochs of mini-batches)
/// and classifies the next [`Options::held_out_samples`]: the accuracy there must beat the
/// most frequent held-out class's share by [`Options::held_out_margin`]. Labels shuffled
/// against their inputs fail it, where the other checks pass. `data` should be shuffled.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::sanity::{Options, learns_beyond_chance};
/// network! { struct Net { fc1: Dense<2, 64>, relu: Relu, fc2: Dense<64, 3> } }
/// let data = constnet::datasets::spiral::<f32>(300, 3, 0).shuffled(0);
/// let adam = AdamConfig::new(1e-2).build::<f32>()?;
/// let options = Options { held_out_train: 600, held_out_samples: 300, held_out_epochs: 60, ..Options::default() };
/// let check = learns_beyond_chance(&Net::new(0), &adam, &SoftmaxCrossEntropy, &data, &options)?;
/// assert!(check.passed, "{check}");
/// let mut shuffled = data.clone();
/// shuffled.labels = data.shuffled(9).labels; // labels no longer belong to their points
/// assert!(!learns_beyond_chance(&Net::new(0), &adam, &SoftmaxCrossEntropy, &shuffled, &options)?.passed);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn learns_beyond_chance<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, O, L>(
    net: &N,
    optimizer: &O,
    loss: &L,
    data: &D,
    options: &Options,
) -> Result<Check, Error>
where
    D: Dataset<Target = [usize]>,
    T: Float,
    N: Network<T, IN, OUT>,
    O: Optimizer<T> + Clone,
    L: Loss<T, OUT, Target = [usize]>,
{
    let len = data.inputs().ncols();
    let train_len = options.held_out_train.min(len / 2);
    let held_len = options.held_out_samples.min(len - train_len);
    if train_len == 0 || held_len == 0 {
        return Err(Error::EmptySet {
            set: "sanity check (held-out)",
        });
    }
    let train = rows(data, 0..train_len)?;
    let held = rows(data, train_len..train_len + held_len)?;
    let (mut net, mut optimizer) = (net.clone(), optimizer.clone());
    let mut batches = train.mini_batches(options.held_out_batch, 0)?;
    let mut tape = net.new_tape(options.held_out_batch.clamp(1, train_len));
    let mut grads = net.new_grads();
    for _ in 0..options.held_out_epochs {
        while let Some((x, labels)) = batches.next_batch() {
            net.loss_and_grad(&x, labels, loss, &mut tape, &mut grads)?;
            optimizer.step(net.params_mut(), &grads)?;
        }
        batches.next_epoch();
    }
    let accuracy = net.accuracy(&held.inputs, &held.labels)?;
    let mut counts = vec![0usize; OUT.max(held.classes())];
    held.labels.iter().for_each(|&l| counts[l] += 1);
    let majority = counts.iter().copied().max().unwrap_or(0) as f64 / held_len as f64;
    let passed = accuracy >= majority + options.held_out_margin;
    let hint = if passed {
        ""
    } else {
        "; do the labels belong to their inputs?"
    };
    Ok(Check {
        name: "learns beyond chance",
        passed,
        detail: format!(
            "{:.1}% on {held_len} held-out samples after {} epochs on {train_len}; the most \
             frequent class is {:.1}%, so at least {:.1}% is needed{hint}",
            accuracy * 100.0,
            options.held_out_epochs,
            majority * 100.0,
            (majority + options.held_out_margin) * 100.0
        ),
    })
}

/// The numeric gradient check ([`GradCheck`]) of `net64` (the network in
/// `f64`: `net.cast::<f64>()`) on the first [`Options::gradient_samples`] of `data`, with
/// [`Options::gradcheck`]; kinks and round-off are reported, not failed.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::sanity::{Options, gradients};
/// network! { struct Net { fc1: Dense<2, 8>, act: Tanh, fc2: Dense<8, 3> } }
/// let data = constnet::datasets::spiral::<f32>(10, 3, 0);
/// let check = gradients(&Net::new(0).cast::<f64>(), &data, &SoftmaxCrossEntropy, &Options::default())?;
/// assert!(check.passed, "{check}");
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn gradients<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, L>(
    net64: &N,
    data: &D,
    loss: &L,
    options: &Options,
) -> Result<Check, Error>
where
    D: Dataset<Target = [usize]>,
    T: Float,
    N: Network<f64, IN, OUT>,
    L: Loss<f64, OUT, Target = [usize]>,
{
    let subset = first(data, options.gradient_samples)?;
    let x = subset.inputs.map(|v| v.as_f64());
    let report = net64.gradcheck(&x, &subset.labels[..], loss, &options.gradcheck)?;
    let (checked, kinks, round_off) = report.tensors.iter().fold((0, 0, 0), |acc, t| {
        (acc.0 + t.checked, acc.1 + t.kinks, acc.2 + t.round_off)
    });
    let failures: usize = report.tensors.iter().map(|t| t.failures).sum();
    Ok(Check {
        name: "gradient check",
        passed: report.passed(),
        detail: format!(
            "largest relative error {:.2e} over {checked} elements of {} tensors on {} samples \
             (tolerance {:e}; {kinks} at kinks, {round_off} within round-off, {failures} failed)",
            report.max_rel_error(),
            report.tensors.len(),
            subset.len(),
            report.tolerance
        ),
    })
}

/// Runs the five checks in the order of the table above: `net` is the network to train,
/// `net64` the same network in `f64` for the gradient check (`net.cast::<f64>()`), `loss`
/// a loss for both scalar types (the built-in losses are).
///
/// See the [module](self) for an example.
pub fn run<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, O, L>(
    net: &N,
    net64: &impl Network<f64, IN, OUT>,
    optimizer: &O,
    loss: &L,
    data: &D,
    options: &Options,
) -> Result<Report, Error>
where
    D: Dataset<Target = [usize]>,
    T: Float,
    N: Network<T, IN, OUT>,
    O: Optimizer<T> + Clone,
    L: Loss<T, OUT, Target = [usize]> + Loss<f64, OUT, Target = [usize]>,
{
    Ok(Report {
        checks: vec![
            loss_at_chance(net, data, loss, options)?,
            regularization_raises_loss(net, data, loss, options)?,
            overfit_small(net, optimizer, loss, data, options)?,
            learns_beyond_chance(net, optimizer, loss, data, options)?,
            gradients(net64, data, loss, options)?,
        ],
    })
}
