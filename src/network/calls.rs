//! The calls of a network on its inputs: [`OnSample`] (`forward`, `predict`,
//! `for_each_activation`) and [`OnBatch`] (`forward_into`, `forward_train`,
//! `loss_and_grad`, `forward_batch`, `accuracy`), which every [`Network`] has.
//!
//! They are traits of their own, with the input's scalar type and shape (a
//! [`Shape`](crate::Shape)) as a parameter, so that a call with an input of another width,
//! scalar type or shape is rustc's error for the call itself: one message in words at the
//! call, not the source of a bound inside constnet.

use nalgebra::SVector;

use super::{Network, Tape, argmax};
use crate::batch::{AnyBatch, AnySample, Batch, BatchIs, BatchView, SampleIs};
use crate::datasets::AnyTargets;
use crate::error::Error;
use crate::losses::{Loss, TakesTargets};
use crate::metrics::softmax_in_place;
use crate::scalar::Float;

/// What a network from `IN` inputs to `OUT` outputs does with one sample: an [`AnySample`]
/// of `IN` features of `T`, such as a [`Sample<T, IN>`](crate::Sample), a column of a batch
/// (`batch.column(j)`) or an array of features. `W` is the sample's scalar type and shape,
/// a [`Shape`](crate::Shape), which rustc infers from the argument: every [`Network`] has
/// this trait for its own width and scalar type, so a sample of another width, or a batch,
/// is this trait's error at the call, in words. It is in the prelude.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 3> } }
/// fn best<N: Network<f32, 2, 3>>(net: &N) -> usize {
///     net.predict(&Sample::from([1.0, 0.0])) // generic code calls it the same way
/// }
/// let net = Net::new(0);
/// assert!(best(&net) < 3);
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 0.0, 0.5, 0.5]);
/// assert_eq!(net.forward(&x.column(0)), net.forward(&[1.0, 0.0])); // a column, an array
/// ```
///
/// ```compile_fail
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 3> } }
/// Net::new(0).forward(&Sample::<f32, 3>::zeros()); // 3 features for a 2-input network
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes a `Sample<{T}, {IN}>`",
    label = "given another width, type or shape"
)]
pub trait OnSample<W, T: Float, const IN: usize, const OUT: usize>: Network<T, IN, OUT> {
    /// Forward pass of one sample in evaluation mode, on the stack: no heap allocation.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2>, act: Relu } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, -1.0, 2.0, 1.0])?; // [[1, -1], [2, 1]], bias 0
    /// let y = net.forward(&Sample::from([1.0, 3.0]));
    /// assert_eq!(y.as_slice(), &[0.0, 5.0]); // relu([1 - 3, 2 + 3])
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn forward<X: ?Sized + AnySample<Shape = W>>(&self, x: &X) -> SVector<T, OUT>;

    /// The index of the largest output for one sample: the predicted class.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 1.0])?; // the scores are the inputs
    /// assert_eq!(net.predict(&Sample::from([0.2, 0.9])), 1);
    /// assert_eq!(net.predict(&Sample::from([0.7, 0.7])), 0); // the first on ties
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn predict<X: ?Sized + AnySample<Shape = W>>(&self, x: &X) -> usize;

    /// Runs one sample forward in evaluation mode, layer by layer (no layers fused), and
    /// calls `f` with each layer's name and output: what activation histograms are made of.
    /// (Its `Dense` products are compiled once per scalar type rather than once per shape,
    /// so its outputs can differ from [`forward`](Self::forward)'s in the last bits.)
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
    /// let net = Net::new(0);
    /// let x = Sample::from([0.5, -1.0]);
    /// let mut seen = Vec::new();
    /// net.for_each_activation(&x, &mut |layer, h| seen.push((layer, h.to_vec())));
    /// let names: Vec<&str> = seen.iter().map(|(n, _)| *n).collect();
    /// assert_eq!(names, ["fc1", "act", "fc2"]);
    /// assert!(seen[1].1.iter().zip(&seen[0].1).all(|(r, z)| *r == z.max(0.0))); // ReLU
    /// let y = net.forward(&x); // the last is the output (rounded in its own order)
    /// assert!((seen[2].1[0] - y[0]).abs() <= 1e-6 * y[0].abs().max(1.0));
    /// ```
    fn for_each_activation<X: ?Sized + AnySample<Shape = W>>(
        &self,
        x: &X,
        f: &mut dyn FnMut(&'static str, &[T]),
    );
}

/// `do_not_recommend`: rustc then reports a sample of another width or scalar type with
/// [`OnSample`]'s message alone.
#[diagnostic::do_not_recommend]
impl<W, T, const IN: usize, const OUT: usize, N> OnSample<W, T, IN, OUT> for N
where
    W: SampleIs<T, IN>,
    T: Float,
    N: Network<T, IN, OUT>,
{
    #[inline(always)]
    fn forward<X: ?Sized + AnySample<Shape = W>>(&self, x: &X) -> SVector<T, OUT> {
        x.with_sample(|x| self.forward_sample(W::sample(x)))
    }

    fn predict<X: ?Sized + AnySample<Shape = W>>(&self, x: &X) -> usize {
        x.with_sample(|x| argmax(self.forward_sample(W::sample(x)).as_slice()))
    }

    fn for_each_activation<X: ?Sized + AnySample<Shape = W>>(
        &self,
        x: &X,
        f: &mut dyn FnMut(&'static str, &[T]),
    ) {
        x.with_sample(|x| self.activations_of(W::sample(x), f))
    }
}

/// What a network from `IN` inputs to `OUT` outputs does with a batch: an [`AnyBatch`] of
/// `IN`-wide samples of `T`, such as a [`Batch`] or a view of its columns (or a reference to
/// one). `W` is the batch's scalar type and shape, a [`Shape`](crate::Shape), which rustc
/// infers from the argument: every [`Network`] has this trait for its own width and scalar
/// type, so a batch of another is this trait's error at the call, in words. It is in the
/// prelude.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 3> } }
/// fn hits<N: Network<f32, 2, 3>>(net: &N, x: &Batch<f32, 2>) -> Result<f64, Error> {
///     net.accuracy(x, &[0, 1]) // generic code calls it the same way
/// }
/// let x = Batch::<f32, 2>::zeros(2);
/// assert!(hits(&Net::new(0), &x)? <= 1.0);
/// # Ok::<(), constnet::Error>(())
/// ```
///
/// ```compile_fail
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 3> } }
/// Net::new(0).forward_batch(&Batch::<f32, 3>::zeros(4)); // 3-wide samples for 2 inputs
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes a batch of {IN}-wide `{T}` samples",
    label = "given another width or type"
)]
pub trait OnBatch<W, T: Float, const IN: usize, const OUT: usize>: Network<T, IN, OUT> {
    /// Forward pass of a batch in evaluation mode, into `tape`'s buffers (no allocation).
    /// `x` is read in place; only [`forward_train`](OnBatch::forward_train) keeps a copy of
    /// it for backward.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.params_mut().copy_from_slice(&[1.0, 2.0, 0.5]); // weight [[1, 2]], bias 0.5
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0, 0.0, -1.0]); // two samples
    /// let mut tape = net.new_tape(2);
    /// let y = net.forward_into(x.columns(0, 2), &mut tape)?;
    /// assert_eq!(y.as_slice(), &[3.5, -1.5]);
    /// assert_eq!(net.forward_into(x.columns(0, 0), &mut tape).unwrap_err(), Error::EmptyBatch);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn forward_into<'t, X: AnyBatch<Shape = W>>(
        &self,
        x: X,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error>;

    /// Forward pass of a batch in training mode, keeping in `tape` what backward needs.
    /// Training mode differs from evaluation where a layer says so: dropout draws a mask,
    /// batch norm normalizes with the batch's statistics and updates its running ones (hence
    /// `&mut self`).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<1, 64>, drop: Dropout } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0; 64])?; // every unit copies the input
    /// let x = Batch::<f32, 1>::from_element(1, 1.0);
    /// let mut tape = net.new_tape(1);
    /// let y = net.forward_train(x.columns(0, 1), &mut tape)?;
    /// // in training each unit is dropped, or kept and scaled by 1 / p = 2
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    /// let kept = y.iter().filter(|&&v| v == 2.0).count();
    /// assert!((16..=48).contains(&kept), "{kept} of 64 kept with p = 0.5");
    /// assert_eq!(net.forward_batch(&x).as_slice(), &[1.0; 64]); // evaluation keeps them all
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn forward_train<'t, X: AnyBatch<Shape = W>>(
        &mut self,
        x: X,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error>;

    /// Forward in training mode, the loss and its gradient, and backward: returns the mean
    /// loss over the batch and overwrites `grads`. Allocates nothing. `target` is what the
    /// loss compares the scores with: a batch of `OUT`-wide target values, or class labels
    /// (a slice, an array or a `Vec` of them).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?; // y = x1 + 2 x2
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// let target = Batch::<f32, 1>::from_column_slice(&[2.0]);
    /// let (mut tape, mut grads) = (net.new_tape(1), net.new_grads());
    /// let loss = net.loss_and_grad(&x, &target, &MeanSquaredError, &mut tape, &mut grads)?;
    /// assert_eq!(loss, 1.0); // (3 - 2)^2
    /// assert_eq!(grads, [2.0, 2.0, 2.0]); // dL/dy = 2 (3 - 2), times x = [1, 1] and 1
    ///
    /// network! { struct Classes { fc: Dense<2, 3> } }
    /// let mut net = Classes::new(0);
    /// let (mut tape, mut grads) = (net.new_tape(2), net.new_grads());
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 0.0, 0.0, 1.0]);
    /// let labels = vec![0, 2];
    /// let a = net.loss_and_grad(&x, &labels, &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
    /// let b = net.loss_and_grad(&x, &[0, 2], &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
    /// let c = net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
    /// assert!(a == b && b == c);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    ///
    /// Targets of another width than the network's outputs do not compile:
    ///
    /// ```compile_fail
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// let target = Batch::<f32, 1>::from_column_slice(&[2.0]); // 1 target, 2 outputs
    /// let (mut tape, mut grads) = (net.new_tape(1), net.new_grads());
    /// net.loss_and_grad(&x, &target, &MeanSquaredError, &mut tape, &mut grads);
    /// ```
    fn loss_and_grad<X, Y, L>(
        &mut self,
        x: &X,
        target: &Y,
        loss: &L,
        tape: &mut Self::Tape,
        grads: &mut [T],
    ) -> Result<T, Error>
    where
        X: ?Sized + AnyBatch<Shape = W>,
        Y: ?Sized + AnyTargets<Self, OUT>,
        L: TakesTargets<T, OUT, Y::Same>;

    /// Forward pass of a batch in evaluation mode into a new matrix (allocates; use
    /// [`forward_into`](OnBatch::forward_into) with a reused tape on a hot path).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// let x = constnet::batch::from_rows(&[[1.0, 1.0], [0.0, -1.0], [2.0, 0.0]]);
    /// assert_eq!(net.forward_batch(&x).as_slice(), &[3.0, -2.0, 2.0]);
    /// assert_eq!(net.forward_batch(&x.columns(0, 0)).ncols(), 0); // empty in, empty out
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn forward_batch<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Batch<T, OUT>;

    /// The fraction of samples whose largest score is at their label.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 1.0])?; // the scores are the inputs
    /// // three samples, which it classifies as 0, 1 and 0
    /// let x = constnet::batch::from_rows(&[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]);
    /// assert_eq!(net.accuracy(&x, &[0, 1, 1])?, 2.0 / 3.0);
    /// let err = net.accuracy(&x, &[0, 1]).unwrap_err();
    /// assert!(matches!(err, Error::WrongLength { expected: 3, got: 2, .. }));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn accuracy<X: ?Sized + AnyBatch<Shape = W>>(
        &self,
        x: &X,
        labels: &[usize],
    ) -> Result<f64, Error>;

    /// The predicted class of every sample: the index of its largest score.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 1.0])?; // the scores are the inputs
    /// let x = constnet::batch::from_rows(&[[0.2, 0.9], [0.7, 0.1]]);
    /// assert_eq!(net.predict_batch(&x), [1, 0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn predict_batch<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Vec<usize>;

    /// The softmax of every sample's scores: class probabilities, each column summing to 1
    /// (computed stably, from the scores less their maximum).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 3> } }
    /// let net = Net::new(0);
    /// let x = constnet::batch::from_rows(&[[0.2, 0.9], [0.7, 0.1]]);
    /// let p = net.predict_proba(&x);
    /// assert!(p.column_iter().all(|c| (c.sum() - 1.0).abs() < 1e-6 && c.iter().all(|&v| v > 0.0)));
    /// ```
    fn predict_proba<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Batch<T, OUT>;
}

/// `do_not_recommend`: rustc then reports a batch of another width or scalar type with
/// [`OnBatch`]'s message alone.
#[diagnostic::do_not_recommend]
impl<W, T, const IN: usize, const OUT: usize, N> OnBatch<W, T, IN, OUT> for N
where
    W: BatchIs<T, IN>,
    T: Float,
    N: Network<T, IN, OUT>,
{
    #[inline]
    fn forward_into<'t, X: AnyBatch<Shape = W>>(
        &self,
        x: X,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error> {
        self.forward_view(as_batch(&x), tape)
    }

    #[inline]
    fn forward_train<'t, X: AnyBatch<Shape = W>>(
        &mut self,
        x: X,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error> {
        self.forward_view_train(as_batch(&x), tape)
    }

    fn loss_and_grad<X, Y, L>(
        &mut self,
        x: &X,
        target: &Y,
        loss: &L,
        tape: &mut Self::Tape,
        grads: &mut [T],
    ) -> Result<T, Error>
    where
        X: ?Sized + AnyBatch<Shape = W>,
        Y: ?Sized + AnyTargets<Self, OUT>,
        L: TakesTargets<T, OUT, Y::Same>,
    {
        loss_and_grad(
            self,
            as_batch(x),
            L::targets(target.same_as()),
            loss,
            tape,
            grads,
        )
    }

    fn forward_batch<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Batch<T, OUT> {
        let x = as_batch(x);
        if x.ncols() == 0 {
            return Batch::<T, OUT>::zeros(0);
        }
        let mut tape = self.new_tape(x.ncols());
        match self.forward_view(x, &mut tape) {
            Ok(y) => y.clone_owned(),
            Err(_) => unreachable!("a tape sized for the batch accepts it"),
        }
    }

    fn accuracy<X: ?Sized + AnyBatch<Shape = W>>(
        &self,
        x: &X,
        labels: &[usize],
    ) -> Result<f64, Error> {
        let x = as_batch(x);
        if labels.len() != x.ncols() {
            return Err(Error::WrongLength {
                what: "labels".into(),
                expected: x.ncols(),
                got: labels.len(),
            });
        }
        if labels.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let mut tape = self.new_tape(x.ncols());
        let scores = self.forward_view(x, &mut tape)?;
        let hits = scores
            .column_iter()
            .zip(labels)
            .filter(|(s, l)| argmax(s.as_slice()) == **l)
            .count();
        Ok(hits as f64 / labels.len() as f64)
    }

    fn predict_batch<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Vec<usize> {
        self.forward_batch(x)
            .column_iter()
            .map(|s| argmax(s.as_slice()))
            .collect()
    }

    fn predict_proba<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Batch<T, OUT> {
        let mut scores = self.forward_batch(x);
        for column in scores.as_mut_slice().chunks_exact_mut(OUT) {
            softmax_in_place(column, T::ONE);
        }
        scores
    }
}

/// [`OnBatch::loss_and_grad`] on a batch view and targets of the loss's own type, which the
/// trainers call.
pub(crate) fn loss_and_grad<N, T, const IN: usize, const OUT: usize, L>(
    net: &mut N,
    x: BatchView<'_, T, IN>,
    target: &L::Target,
    loss: &L,
    tape: &mut N::Tape,
    grads: &mut [T],
) -> Result<T, Error>
where
    N: Network<T, IN, OUT>,
    T: Float,
    L: Loss<T, OUT>,
{
    net.forward_view_train(x, tape)?;
    let (scores, dscores) = tape.output_and_grad_mut();
    let value = loss.loss_and_grad(scores, target, dscores)?;
    net.backward(tape, grads)?;
    Ok(value)
}

/// A batch of shape `W`, as the batch of `IN`-wide samples of `T` it is.
#[inline(always)]
pub(crate) fn as_batch<X, W, T, const IN: usize>(x: &X) -> BatchView<'_, T, IN>
where
    X: ?Sized + AnyBatch<Shape = W>,
    W: BatchIs<T, IN>,
    T: Float,
{
    W::batch(x.samples())
}
