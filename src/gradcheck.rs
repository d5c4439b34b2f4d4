//! Numeric gradient checking, as the CS231n notes prescribe.
//!
//! For each checked element `w` of a parameter tensor, the numeric gradient is the centered
//! difference `(f(w + h) - f(w - h)) / 2h` in `f64`, compared with the analytic gradient by
//! the relative error `|a - n| / max(|a|, |n|)` (zero when both are zero). Every parameter
//! tensor is sampled, biases included.
//!
//! Two things are not counted as failures, and both are reported:
//! - a **kink**: when the winners of a max-like gate (ReLU, a hinge margin) differ between
//!   `f(w + h)` and `f(w - h)`, the centered difference straddles a corner and is not exact;
//! - **round-off**: when `|a - n|` is within the floating-point noise of the difference
//!   itself, `4 eps max(|f(w + h)|, |f(w - h)|) / 2h`, the relative error of a gradient that
//!   is tiny next to the loss says nothing about the code.

use std::fmt;

use rand::SeedableRng;

use crate::batch::{AnyBatch, Batch, BatchIs};
use crate::error::Error;
use crate::layer::Kinks;
use crate::losses::Loss;
use crate::network::{Network, OnBatch, Tape, TensorRef, as_batch};
use crate::regularize::Regularizer;
use crate::scalar::Float;

/// What a gradient check does.
///
/// ```
/// use constnet::gradcheck::Options;
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<3, 4>, act: Tanh, fc2: Dense<4, 2> } }
/// let net = Net::<f64>::init(2);
/// let x = Batch::<f64, 3>::from_fn(3, |i, j| (i + 2 * j) as f64 * 0.1);
/// let options = Options {
///     samples_per_tensor: 5,
///     regularizer: Some(Regularizer::l2(1e-2)?),
///     check_input: true,
///     ..Options::default()
/// };
/// let report = net.gradcheck(&x, &[1, 0, 1][..], &SoftmaxCrossEntropy, &options)?;
/// assert!(report.passed(), "{report}");
/// // 5 elements of each tensor, or all of a smaller one; the input comes last.
/// let checked: Vec<usize> = report.tensors.iter().map(|t| t.checked).collect();
/// assert_eq!(checked, [5, 4, 5, 2, 5]); // fc1.weight, fc1.bias, fc2.weight, fc2.bias
/// assert_eq!(report.tensors[4].name, "input");
/// let bad_step = Options { step: 0.0, ..Options::default() };
/// assert!(net.gradcheck(&x, &[1, 0, 1][..], &SoftmaxCrossEntropy, &bad_step).is_err());
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The perturbation `h` (the notes: 1e-5).
    pub step: f64,
    /// How many elements of each tensor to check; a tensor with fewer is checked whole.
    pub samples_per_tensor: usize,
    /// The relative error above which an element fails (the notes: 1e-7 is good).
    pub tolerance: f64,
    /// A penalty added to the objective (and its gradient to the analytic one).
    pub regularizer: Option<Regularizer>,
    /// Also check the gradient with respect to the input batch.
    pub check_input: bool,
    /// Seed of the element sampling.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            step: 1e-5,
            samples_per_tensor: 40,
            tolerance: 1e-7,
            regularizer: None,
            check_input: false,
            seed: 0,
        }
    }
}

/// One checked element.
///
/// ```
/// use constnet::gradcheck::rel_error;
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<2, 3>, act: Tanh, fc2: Dense<3, 2> } }
/// # let net = Net::<f64>::init(0);
/// # let x = Batch::<f64, 2>::from_fn(2, |i, j| (i as f64 + 1.0) * (j as f64 - 0.5));
/// let report = net.gradcheck(&x, &[0, 1][..], &SoftmaxCrossEntropy, &Default::default())?;
/// let fc2_bias = &report.tensors[3];
/// let worst = fc2_bias.worst.expect("a tensor with counted elements has a worst one");
/// assert!(worst.index < 2);
/// assert_eq!(worst.rel_error, rel_error(worst.analytic, worst.numeric));
/// assert_eq!(worst.rel_error, fc2_bias.max_rel_error);
/// assert!((worst.analytic - worst.numeric).abs() < 1e-8);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Element {
    /// Index in the tensor's buffer order.
    pub index: usize,
    /// The backward pass's gradient.
    pub analytic: f64,
    /// The centered difference.
    pub numeric: f64,
    /// `|a - n| / max(|a|, |n|)`.
    pub rel_error: f64,
}

/// The check of one tensor.
///
/// ```
/// use constnet::gradcheck::Options;
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<2, 3>, act: Tanh, fc2: Dense<3, 2> } }
/// # let net = Net::<f64>::init(0);
/// # let x = Batch::<f64, 2>::from_fn(2, |i, j| (i as f64 + 1.0) * (j as f64 - 0.5));
/// let options = Options { samples_per_tensor: 4, ..Options::default() };
/// let report = net.gradcheck(&x, &[0, 1][..], &SoftmaxCrossEntropy, &options)?;
/// let fc1_weight = &report.tensors[0];
/// assert_eq!(fc1_weight.name, "fc1.weight");
/// assert_eq!(fc1_weight.checked, 4); // 4 of its 6 elements
/// assert_eq!(fc1_weight.kinks, 0); // tanh and softmax have no kinks
/// assert_eq!(fc1_weight.failures, 0);
/// assert!(fc1_weight.max_rel_error <= report.tolerance);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    /// `fc1.weight`, or `input` for the input batch.
    pub name: String,
    /// Elements checked.
    pub checked: usize,
    /// Elements whose perturbation crossed a kink (not counted as failures).
    pub kinks: usize,
    /// Elements above the tolerance only by floating-point noise (not counted as failures).
    pub round_off: usize,
    /// Elements above the tolerance.
    pub failures: usize,
    /// The largest relative error among the counted elements (kinks and round-off excluded).
    pub max_rel_error: f64,
    /// The element with that error.
    pub worst: Option<Element>,
}

/// The result of [`GradCheck::gradcheck`]: one line per tensor.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<2, 3>, act: Tanh, fc2: Dense<3, 2> } }
/// # let net = Net::<f64>::init(0);
/// # let x = Batch::<f64, 2>::from_fn(2, |i, j| (i as f64 + 1.0) * (j as f64 - 0.5));
/// let report = net.gradcheck(&x, &[0, 1][..], &SoftmaxCrossEntropy, &Default::default())?;
/// assert_eq!((report.tensors.len(), report.tolerance), (4, 1e-7));
/// // Printed, it is a table with a header, a line per tensor and the verdict.
/// let text = report.to_string();
/// let lines: Vec<&str> = text.lines().collect();
/// assert!(lines[0].starts_with("tensor") && lines[1].starts_with("fc1.weight"));
/// assert_eq!(lines[5], "passed at tolerance 1e-7");
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Per-tensor results, in buffer order (the input last, when checked).
    pub tensors: Vec<TensorReport>,
    /// The tolerance used.
    pub tolerance: f64,
}

impl Report {
    /// Whether no element failed.
    ///
    /// ```
    /// use constnet::gradcheck::Options;
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Tanh, fc2: Dense<3, 2> } }
    /// # let net = Net::<f64>::init(0);
    /// # let x = Batch::<f64, 2>::from_fn(2, |i, j| (i as f64 + 1.0) * (j as f64 - 0.5));
    /// let check = |step| {
    ///     let options = Options { step, ..Options::default() };
    ///     net.gradcheck(&x, &[0, 1][..], &SoftmaxCrossEntropy, &options)
    /// };
    /// assert!(check(1e-5)?.passed());
    /// // A step of 0.5 is far too coarse: the centered difference misses the gradient.
    /// let coarse = check(0.5)?;
    /// assert!(!coarse.passed());
    /// assert!(coarse.tensors.iter().any(|t| t.failures > 0));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn passed(&self) -> bool {
        self.tensors.iter().all(|t| t.failures == 0)
    }

    /// The largest relative error over all counted elements.
    ///
    /// ```
    /// use constnet::gradcheck::Options;
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Tanh, fc2: Dense<3, 2> } }
    /// # let net = Net::<f64>::init(0);
    /// # let x = Batch::<f64, 2>::from_fn(2, |i, j| (i as f64 + 1.0) * (j as f64 - 0.5));
    /// let check = |step| {
    ///     let options = Options { step, ..Options::default() };
    ///     net.gradcheck(&x, &[0, 1][..], &SoftmaxCrossEntropy, &options)
    /// };
    /// let (fine, coarse) = (check(1e-5)?, check(0.5)?);
    /// assert!(fine.max_rel_error() < 1e-7);
    /// assert!(coarse.max_rel_error() > 1e-4);
    /// // It is the largest of the per-tensor maxima.
    /// assert!(coarse.tensors.iter().all(|t| t.max_rel_error <= coarse.max_rel_error()));
    /// assert!(coarse.tensors.iter().any(|t| t.max_rel_error == coarse.max_rel_error()));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn max_rel_error(&self) -> f64 {
        self.tensors
            .iter()
            .map(|t| t.max_rel_error)
            .fold(0.0, f64::max)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:>7} {:>6} {:>9} {:>8} {:>12}",
            "tensor", "checked", "kinks", "round-off", "failures", "max rel err"
        )?;
        for t in &self.tensors {
            writeln!(
                f,
                "{:<16} {:>7} {:>6} {:>9} {:>8} {:>12.3e}",
                t.name, t.checked, t.kinks, t.round_off, t.failures, t.max_rel_error
            )?;
        }
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        write!(f, "{verdict} at tolerance {:e}", self.tolerance)
    }
}

/// The relative error `|a - n| / max(|a|, |n|)`, zero when both are zero.
///
/// ```
/// assert_eq!(constnet::gradcheck::rel_error(0.0, 0.0), 0.0);
/// assert_eq!(constnet::gradcheck::rel_error(1.0, 0.5), 0.5);
/// ```
pub fn rel_error(analytic: f64, numeric: f64) -> f64 {
    let scale = analytic.abs().max(numeric.abs());
    if scale == 0.0 {
        0.0
    } else {
        (analytic - numeric).abs() / scale
    }
}

/// The numeric gradient check of a network from `IN` inputs to `OUT` outputs, in `f64`, on a
/// batch of shape `W` (see [`OnBatch`]). Every network has it, and it runs on a network of
/// `f64` (cast one of `f32` with `.cast::<f64>()`) with a batch of `IN`-wide `f64` samples:
/// anything else is this trait's error at the call, in words. In the
/// [prelude](crate::prelude).
///
/// ```compile_fail
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 3> } }
/// let x = Batch::<f64, 2>::zeros(2);
/// let options = Default::default();
/// Net::<f32>::new(0).gradcheck(&x, &[0, 1][..], &SoftmaxCrossEntropy, &options); // f32
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is checked in `f64`, on {IN}-wide samples",
    label = "here"
)]
pub trait GradCheck<W, T: Float, const IN: usize, const OUT: usize>: Network<T, IN, OUT> {
    /// Checks the network's backward pass against centered differences of `loss` on the
    /// batch `x` with targets `target`.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<3, 5>, act: Tanh, fc2: Dense<5, 2> } }
    /// let net = Net::<f64>::init(1);
    /// let x = Batch::<f64, 3>::from_fn(4, |i, j| (i as f64 - j as f64) * 0.3);
    /// let labels = [0, 1, 1, 0];
    /// let report = net.gradcheck(&x, &labels[..], &SoftmaxCrossEntropy, &Default::default())?;
    /// assert!(report.passed(), "{report}");
    /// assert!(report.max_rel_error() < 1e-7);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn gradcheck<X: ?Sized + AnyBatch<Shape = W>, L: Loss<f64, OUT>>(
        &self,
        x: &X,
        target: &L::Target,
        loss: &L,
        options: &Options,
    ) -> Result<Report, Error>;
}

/// `do_not_recommend`: rustc then reports a batch of another width, or a network of another
/// scalar type, with [`GradCheck`]'s message alone.
#[diagnostic::do_not_recommend]
impl<W, T, const IN: usize, const OUT: usize, N> GradCheck<W, T, IN, OUT> for N
where
    W: ChecksIn<N, IN, OUT>,
    T: Float,
    N: Network<T, IN, OUT>,
{
    fn gradcheck<X: ?Sized + AnyBatch<Shape = W>, L: Loss<f64, OUT>>(
        &self,
        x: &X,
        target: &L::Target,
        loss: &L,
        options: &Options,
    ) -> Result<Report, Error> {
        W::gradcheck(self, x, target, loss, options)
    }
}

/// A batch shape of `IN`-wide `f64` samples, for a network `N` of `f64`. [`GradCheck`] is
/// implemented for every network, of any scalar type `T`, with this bound on the batch's
/// shape: rustc then reaches the method before it finds `N` is not of `f64`, and says so
/// with [`GradCheck`]'s message (a bound `N: Network<f64, IN, OUT>` on the impl would hide
/// the method from a network of `f32`, and rustc would say it has no such method).
#[doc(hidden)]
pub trait ChecksIn<N, const IN: usize, const OUT: usize> {
    /// [`GradCheck::gradcheck`] of `net`.
    fn gradcheck<X: ?Sized + AnyBatch<Shape = Self>, L: Loss<f64, OUT>>(
        net: &N,
        x: &X,
        target: &L::Target,
        loss: &L,
        options: &Options,
    ) -> Result<Report, Error>;
}

impl<W, N, const IN: usize, const OUT: usize> ChecksIn<N, IN, OUT> for W
where
    W: BatchIs<f64, IN>,
    N: Network<f64, IN, OUT>,
{
    fn gradcheck<X: ?Sized + AnyBatch<Shape = W>, L: Loss<f64, OUT>>(
        net: &N,
        x: &X,
        target: &L::Target,
        loss: &L,
        options: &Options,
    ) -> Result<Report, Error> {
        check(net, as_batch(x).clone_owned(), target, loss, options)
    }
}

/// [`GradCheck::gradcheck`] on an owned copy of the batch, which the check perturbs.
fn check<N, L, const IN: usize, const OUT: usize>(
    net: &N,
    x: Batch<f64, IN>,
    target: &L::Target,
    loss: &L,
    options: &Options,
) -> Result<Report, Error>
where
    N: Network<f64, IN, OUT>,
    L: Loss<f64, OUT>,
{
    if !(options.step.is_finite() && options.step > 0.0) {
        return Err(Error::BadHyperparameter {
            name: "gradcheck step",
            value: options.step,
            expected: "a positive, finite number",
        });
    }
    let mut probe = Probe {
        net: net.clone(),
        tape: net.new_tape(x.ncols()),
        grads: net.new_grads(),
        x,
        target,
        loss,
        regularizer: options.regularizer,
    };
    // The analytic gradients, from one forward and backward pass; any dropout mask drawn
    // there is then held for every perturbed evaluation.
    probe.evaluate()?;
    probe.tape.freeze_masks(true);
    let (net_ref, tape) = (&probe.net, &mut probe.tape);
    let input_grad = options.check_input;
    if input_grad {
        net_ref.backward_with_input_grad(tape, &mut probe.grads)?;
    } else {
        net_ref.backward(tape, &mut probe.grads)?;
    }
    if let Some(regularizer) = &options.regularizer {
        regularizer.apply(&probe.net, &mut probe.grads);
    }
    let analytic_params = probe.grads.clone();
    let analytic_input: Vec<f64> = probe.tape.input_grad().iter().copied().collect();

    let mut tensors: Vec<TensorRef> = Vec::new();
    net.for_each_tensor(&mut |t| tensors.push(t));
    let mut rng = crate::SeededRng::seed_from_u64(options.seed);
    let mut reports = Vec::new();
    for t in &tensors {
        let indices = sample_indices(t.spec.len(), options.samples_per_tensor, &mut rng);
        let mut report = TensorReport::new(t.name());
        for i in indices {
            let at = t.offset + i;
            let element = probe.check(Which::Param(at), analytic_params[at], options)?;
            report.add(i, element, options.tolerance);
        }
        reports.push(report);
    }
    if input_grad {
        let indices = sample_indices(probe.x.len(), options.samples_per_tensor, &mut rng);
        let mut report = TensorReport::new("input".into());
        for i in indices {
            let element = probe.check(Which::Input(i), analytic_input[i], options)?;
            report.add(i, element, options.tolerance);
        }
        reports.push(report);
    }
    Ok(Report {
        tensors: reports,
        tolerance: options.tolerance,
    })
}

/// What one perturbation moves.
#[derive(Clone, Copy)]
enum Which {
    Param(usize),
    Input(usize),
}

/// The outcome of one element's check, before it is tallied.
enum Outcome {
    Kink,
    RoundOff,
    Counted(f64, f64),
}

struct Probe<'a, N: Network<f64, IN, OUT>, L: Loss<f64, OUT>, const IN: usize, const OUT: usize> {
    net: N,
    tape: N::Tape,
    grads: Vec<f64>,
    x: Batch<f64, IN>,
    target: &'a L::Target,
    loss: &'a L,
    regularizer: Option<Regularizer>,
}

impl<N: Network<f64, IN, OUT>, L: Loss<f64, OUT>, const IN: usize, const OUT: usize>
    Probe<'_, N, L, IN, OUT>
{
    /// The objective (loss plus L2) at the current parameters and input, with the winners of
    /// every max gate on the way.
    fn evaluate(&mut self) -> Result<(f64, Kinks), Error> {
        let batch = self.x.ncols();
        self.net
            .forward_train(self.x.columns(0, batch), &mut self.tape)?;
        let (scores, dscores) = self.tape.output_and_grad_mut();
        let mut value = self.loss.loss_and_grad(scores, self.target, dscores)?;
        let mut kinks = Kinks::default();
        self.net.record_kinks(&self.tape, &mut kinks);
        self.loss
            .record_kinks(self.tape.output(), self.target, &mut kinks);
        if let Some(regularizer) = &self.regularizer {
            value += regularizer.value(&self.net);
        }
        Ok((value, kinks))
    }

    fn slot(&mut self, which: Which) -> &mut f64 {
        match which {
            Which::Param(i) => &mut self.net.params_mut()[i],
            Which::Input(i) => &mut self.x.as_mut_slice()[i],
        }
    }

    fn check(&mut self, which: Which, analytic: f64, options: &Options) -> Result<Outcome, Error> {
        let h = options.step;
        let original = *self.slot(which);
        *self.slot(which) = original + h;
        let (plus, kinks_plus) = self.evaluate()?;
        *self.slot(which) = original - h;
        let (minus, kinks_minus) = self.evaluate()?;
        *self.slot(which) = original;
        let numeric = (plus - minus) / (2.0 * h);
        let noise = 4.0 * f64::EPSILON * plus.abs().max(minus.abs()) / (2.0 * h);
        Ok(if kinks_plus != kinks_minus {
            Outcome::Kink
        } else if rel_error(analytic, numeric) > options.tolerance
            && (analytic - numeric).abs() <= noise
        {
            Outcome::RoundOff
        } else {
            Outcome::Counted(analytic, numeric)
        })
    }
}

impl TensorReport {
    fn new(name: String) -> Self {
        TensorReport {
            name,
            checked: 0,
            kinks: 0,
            round_off: 0,
            failures: 0,
            max_rel_error: 0.0,
            worst: None,
        }
    }

    fn add(&mut self, index: usize, outcome: Outcome, tolerance: f64) {
        self.checked += 1;
        match outcome {
            Outcome::Kink => self.kinks += 1,
            Outcome::RoundOff => self.round_off += 1,
            Outcome::Counted(analytic, numeric) => {
                let rel = rel_error(analytic, numeric);
                if rel > tolerance {
                    self.failures += 1;
                }
                if rel >= self.max_rel_error {
                    self.max_rel_error = rel;
                    self.worst = Some(Element {
                        index,
                        analytic,
                        numeric,
                        rel_error: rel,
                    });
                }
            }
        }
    }
}

/// All of `0..len` when it is short, otherwise `count` distinct indices at random.
fn sample_indices(len: usize, count: usize, rng: &mut crate::SeededRng) -> Vec<usize> {
    if len <= count {
        (0..len).collect()
    } else {
        let mut picked = rand::seq::index::sample(rng, len, count).into_vec();
        picked.sort_unstable();
        picked
    }
}
