//! Regularization: penalties added to the loss and its gradient, and the max-norm
//! constraint applied after an update.

use crate::error::Error;
use crate::layer::Storage;
use crate::network::{Network, TensorRef};
use crate::optim::positive;
use crate::scalar::Float;

/// A penalty on parameter magnitudes, with the notes' formulas.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 1> } }
/// let mut net = Net::new(0);
/// net.write_param("fc.weight", &[2.0, -4.0])?; // sum |w| = 6, sum w^2 = 20
/// let value = |penalty| Regularizer::new(penalty).map(|r| r.value(&net));
/// assert_eq!(value(Penalty::L2 { lambda: 0.5 })?, 0.5 * 0.5 * 20.0);
/// assert_eq!(value(Penalty::L1 { lambda: 0.5 })?, 0.5 * 6.0);
/// assert_eq!(value(Penalty::ElasticNet { l1: 0.5, l2: 0.25 })?, 0.5 * 6.0 + 0.25 * 20.0);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    /// `0.5 * lambda * w^2` per weight; gradient `lambda * w`.
    L2 {
        /// Strength, non-negative.
        lambda: f64,
    },
    /// `lambda * |w|`; gradient `lambda * sign(w)` (0 at 0).
    L1 {
        /// Strength, non-negative.
        lambda: f64,
    },
    /// Elastic net `l1 * |w| + l2 * w^2`; gradient `l1 * sign(w) + 2 * l2 * w`.
    ElasticNet {
        /// Strength of the L1 term, non-negative.
        l1: f64,
        /// Strength of the squared term, non-negative.
        l2: f64,
    },
}

/// A [`Penalty`] on the weight tensors of a network, and on the biases too if asked.
///
/// [`apply`](Self::apply) adds the penalty's gradient to the gradient buffer and returns its
/// value to add to the data loss; it allocates nothing.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 1> } }
/// let mut net = Net::new(0);
/// net.write_param("fc.weight", &[3.0, -4.0])?;
/// net.write_param("fc.bias", &[1.0])?;
/// let mut grads = net.new_grads();
/// let l2 = Regularizer::l2(0.1)?;
/// assert_eq!(l2.apply(&net, &mut grads), 0.5 * 0.1 * 25.0); // biases excluded
/// assert_eq!(grads, [0.3f32, -0.4, 0.0]);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    penalty: Penalty,
    biases: bool,
}

impl Regularizer {
    /// The penalty, its strengths checked (non-negative and finite), on weights only.
    ///
    /// ```
    /// use constnet::{Penalty, Regularizer};
    /// let r = Regularizer::new(Penalty::ElasticNet { l1: 1e-4, l2: 0.0 })?;
    /// assert_eq!(r.penalty(), Penalty::ElasticNet { l1: 1e-4, l2: 0.0 });
    /// assert!(!r.regularizes_biases());
    /// assert!(Regularizer::new(Penalty::L2 { lambda: -1.0 }).is_err());
    /// assert!(Regularizer::new(Penalty::ElasticNet { l1: 1e-4, l2: f64::NAN }).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(penalty: Penalty) -> Result<Self, Error> {
        let strengths: &[(&'static str, f64)] = match &penalty {
            Penalty::L2 { lambda } => &[("L2 strength", *lambda)],
            Penalty::L1 { lambda } => &[("L1 strength", *lambda)],
            Penalty::ElasticNet { l1, l2 } => &[("L1 strength", *l1), ("L2 strength", *l2)],
        };
        for &(name, value) in strengths {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::BadHyperparameter {
                    name,
                    value,
                    expected: "a non-negative, finite number",
                });
            }
        }
        Ok(Regularizer {
            penalty,
            biases: false,
        })
    }

    /// L2, `0.5 * lambda * w^2`.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[2.0, -4.0])?;
    /// let mut grads = net.new_grads();
    /// assert_eq!(Regularizer::l2(0.5)?.apply(&net, &mut grads), 0.5 * 0.5 * 20.0);
    /// assert_eq!(grads, [1.0, -2.0, 0.0]); // lambda * w, and nothing on the bias
    /// assert!(Regularizer::l2(-0.5).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn l2(lambda: f64) -> Result<Self, Error> {
        Regularizer::new(Penalty::L2 { lambda })
    }

    /// L1, `lambda * |w|`.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<3, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[2.0, 0.0, -4.0])?;
    /// let mut grads = net.new_grads();
    /// assert_eq!(Regularizer::l1(0.5)?.apply(&net, &mut grads), 0.5 * 6.0);
    /// assert_eq!(grads, [0.5, 0.0, -0.5, 0.0]); // lambda * sign(w), with sign(0) = 0
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn l1(lambda: f64) -> Result<Self, Error> {
        Regularizer::new(Penalty::L1 { lambda })
    }

    /// Elastic net, `l1 * |w| + l2 * w^2`.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[2.0, -4.0])?;
    /// let mut grads = net.new_grads();
    /// let value = Regularizer::elastic_net(1.0, 0.25)?.apply(&net, &mut grads);
    /// assert_eq!(value, 1.0 * 6.0 + 0.25 * 20.0);
    /// assert_eq!(grads, [2.0, -3.0, 0.0]); // l1 * sign(w) + 2 * l2 * w
    /// assert!(Regularizer::elastic_net(-1.0, 0.25).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn elastic_net(l1: f64, l2: f64) -> Result<Self, Error> {
        Regularizer::new(Penalty::ElasticNet { l1, l2 })
    }

    /// The same penalty on the biases too (the notes leave biases unregularized).
    ///
    /// ```
    /// let r = constnet::Regularizer::l1(1e-4)?.with_biases();
    /// assert!(r.regularizes_biases());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    ///
    /// The bias then gets the penalty's gradient like a weight:
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<1, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[2.0])?;
    /// net.write_param("fc.bias", &[4.0])?;
    /// let mut grads = net.new_grads();
    /// let value = Regularizer::l2(0.5)?.with_biases().apply(&net, &mut grads);
    /// assert_eq!(value, 0.5 * 0.5 * (4.0 + 16.0));
    /// assert_eq!(grads, [1.0, 2.0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn with_biases(self) -> Self {
        Regularizer {
            biases: true,
            ..self
        }
    }

    /// Whether biases are penalized.
    ///
    /// ```
    /// let r = constnet::Regularizer::l2(1e-3)?;
    /// assert!(!r.regularizes_biases());
    /// assert!(r.with_biases().regularizes_biases());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn regularizes_biases(&self) -> bool {
        self.biases
    }

    /// The penalty.
    ///
    /// ```
    /// use constnet::{Penalty, Regularizer};
    /// let r = Regularizer::elastic_net(0.1, 0.2)?;
    /// assert_eq!(r.penalty(), Penalty::ElasticNet { l1: 0.1, l2: 0.2 });
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn penalty(&self) -> Penalty {
        self.penalty
    }

    /// `Ok` if the strengths, checked in `f64` when the regularizer was made, are still finite
    /// in the scalar type `T` of a network it regularizes (`l2(1e300)` is infinity in `f32`);
    /// [`fit`](crate::train::fit) checks this before it trains.
    ///
    /// ```
    /// use constnet::Regularizer;
    /// assert!(Regularizer::l2(1e300)?.check_in::<f64>().is_ok());
    /// assert!(Regularizer::l2(1e300)?.check_in::<f32>().is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn check_in<T: Float>(&self) -> Result<(), Error> {
        let strengths: &[(&'static str, f64)] = match self.penalty {
            Penalty::L2 { lambda } => &[("L2 strength", 0.5 * lambda)],
            Penalty::L1 { lambda } => &[("L1 strength", lambda)],
            Penalty::ElasticNet { l1, l2 } => &[("L1 strength", l1), ("L2 strength", l2)],
        };
        for &(name, value) in strengths {
            if !T::of_f64(value).is_finite() {
                return Err(Error::BadHyperparameter {
                    name,
                    value,
                    expected: "finite in the scalar type of the network",
                });
            }
        }
        Ok(())
    }

    fn covers(&self, t: &TensorRef) -> bool {
        self.biases || t.is_weight()
    }

    /// Adds the penalty's gradient to `grads` and returns the penalty's value.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[2.0, -4.0])?;
    /// net.write_param("fc.bias", &[3.0])?;
    /// let mut grads = vec![1.0f32; 3]; // a data gradient, already computed
    /// let l2 = Regularizer::l2(0.5)?;
    /// assert_eq!(l2.apply(&net, &mut grads), l2.value(&net));
    /// assert_eq!(grads, [2.0, -1.0, 1.0]); // added to, not overwritten; the bias left alone
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        &self,
        net: &N,
        grads: &mut [T],
    ) -> T {
        let params = net.params();
        let mut total = T::ZERO;
        net.for_each_tensor(&mut |t| {
            if self.covers(&t) {
                let range = t.range();
                total += add_penalty(self.penalty, &params[range.clone()], &mut grads[range]);
            }
        });
        total
    }

    /// The penalty's value alone, without touching any gradient.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[3.0, -4.0])?;
    /// assert_eq!(Regularizer::elastic_net(1.0, 0.5)?.value(&net), 7.0 + 0.5 * 25.0);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn value<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        &self,
        net: &N,
    ) -> T {
        let params = net.params();
        let mut total = T::ZERO;
        net.for_each_tensor(&mut |t| {
            if self.covers(&t) {
                total += penalty_value(self.penalty, &params[t.range()]);
            }
        });
        total
    }
}

/// `sign(w)` with `sign(0) = 0`.
#[inline(always)]
fn sign<T: Float>(w: T) -> T {
    if w > T::ZERO {
        T::ONE
    } else if w < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// Adds the gradient of the penalty on `w` to `g` and returns its value.
fn add_penalty<T: Float>(penalty: Penalty, w: &[T], g: &mut [T]) -> T {
    match penalty {
        Penalty::L2 { lambda } => {
            let lambda = T::of_f64(lambda);
            for (g, &w) in g.iter_mut().zip(w) {
                *g += lambda * w;
            }
        }
        Penalty::L1 { lambda } => {
            let lambda = T::of_f64(lambda);
            for (g, &w) in g.iter_mut().zip(w) {
                *g += lambda * sign(w);
            }
        }
        Penalty::ElasticNet { l1, l2 } => {
            let (l1, l2) = (T::of_f64(l1), T::of_f64(l2));
            let two_l2 = l2 + l2;
            for (g, &w) in g.iter_mut().zip(w) {
                *g += l1 * sign(w) + two_l2 * w;
            }
        }
    }
    penalty_value(penalty, w)
}

/// The sum of `f(v)` over `values`, in 16 running sums that LLVM keeps in vector registers:
/// one running sum is a chain of dependent adds, one per element (the spiral net's L2
/// penalty took 0.7 us that way, for 600 weights).
#[inline]
fn sum_in_lanes<T: Float>(values: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::ZERO; 16];
    let (chunks, rest) = values.as_chunks::<16>();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    let rest = rest.iter().fold(T::ZERO, |s, &v| s + f(v));
    lanes.iter().fold(rest, |s, &v| s + v)
}

/// The penalty on `w`.
fn penalty_value<T: Float>(penalty: Penalty, w: &[T]) -> T {
    let sum_abs = || sum_in_lanes(w, |w| w.abs());
    let sum_sq = || sum_in_lanes(w, |w| w * w);
    match penalty {
        Penalty::L2 { lambda } => T::of_f64(0.5 * lambda) * sum_sq(),
        Penalty::L1 { lambda } => T::of_f64(lambda) * sum_abs(),
        Penalty::ElasticNet { l1, l2 } => T::of_f64(l1) * sum_abs() + T::of_f64(l2) * sum_sq(),
    }
}

/// The max-norm constraint: after each update, every neuron's incoming weight vector (a row
/// of a `[out, in]` weight tensor, whatever its storage order) is scaled down to
/// `||w||_2 <= c` if it is longer. Biases are not touched.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 2> } }
/// let mut net = Net::new(0);
/// net.write_param("fc.weight", &[3.0, 4.0, 0.3, 0.4])?; // rows of norm 5 and 0.5
/// MaxNorm::new(1.0)?.apply(&mut net);
/// let w = net.param("fc.weight")?;
/// assert!((w[0] - 0.6).abs() < 1e-6 && (w[1] - 0.8).abs() < 1e-6);
/// assert_eq!(&w[2..], &[0.3, 0.4]);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxNorm {
    c: f64,
}

impl MaxNorm {
    /// The constraint `||w||_2 <= c`; `c` must be positive (typically 3 or 4).
    ///
    /// ```
    /// use constnet::MaxNorm;
    /// assert_eq!(MaxNorm::new(3.0)?.bound(), 3.0);
    /// assert!(MaxNorm::new(0.0).is_err());
    /// assert!(MaxNorm::new(f64::INFINITY).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(c: f64) -> Result<Self, Error> {
        Ok(MaxNorm {
            c: positive("max-norm bound", c)?,
        })
    }

    /// The bound `c`.
    ///
    /// ```
    /// assert_eq!(constnet::MaxNorm::new(4.0)?.bound(), 4.0);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn bound(&self) -> f64 {
        self.c
    }

    /// Clamps every row of every weight tensor of `net`. Allocates nothing.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<3, 2>, act: Relu, fc2: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc1.weight", &[2.0, 2.0, 1.0, 0.0, 1.0, 0.0])?; // row norms 3 and 1
    /// net.write_param("fc1.bias", &[10.0, -10.0])?;
    /// net.write_param("fc2.weight", &[0.0, -6.0])?; // norm 6
    /// MaxNorm::new(1.5)?.apply(&mut net);
    /// let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    /// assert!(close(&net.param("fc1.weight")?, &[1.0, 1.0, 0.5, 0.0, 1.0, 0.0]));
    /// assert!(close(&net.param("fc2.weight")?, &[0.0, -1.5]));
    /// assert_eq!(net.param("fc1.bias")?, [10.0, -10.0]); // biases are not touched
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        &self,
        net: &mut N,
    ) {
        let c = T::of_f64(self.c);
        // A tensor description borrows nothing from the network, so each one is looked up
        // by index and the parameters borrowed mutably after it: no list to allocate.
        let mut n = 0;
        while let Some(t) = net.nth_tensor(n) {
            n += 1;
            if !t.is_weight() {
                continue;
            }
            let w = &mut net.params_mut()[t.range()];
            let rows = t.spec.shape.first().copied().unwrap_or(1).max(1);
            let fan_in = w.len() / rows;
            // (first element, stride) of row `o` in the tensor's storage order.
            let row = |o: usize| match t.spec.storage {
                Storage::RowMajor => (o * fan_in, 1),
                Storage::ColumnMajor => (o, rows),
            };
            for o in 0..rows {
                let (start, stride) = row(o);
                let norm = w[start..]
                    .iter()
                    .step_by(stride)
                    .take(fan_in)
                    .fold(T::ZERO, |s, &v| s + v * v)
                    .sqrt();
                if norm > c {
                    let scale = c / norm;
                    for v in w[start..].iter_mut().step_by(stride).take(fan_in) {
                        *v *= scale;
                    }
                }
            }
        }
    }
}

/// Gradient clipping, applied to the whole gradient buffer after backward (and the
/// penalty's gradient) and before the update, as PyTorch's `clip_grad_norm_` and
/// `clip_grad_value_` do. [`fit`](crate::train::fit) takes it in
/// [`Config::clip`](crate::train::Config).
///
/// ```
/// use constnet::Clip;
/// let mut g = [3.0f32, 4.0]; // norm 5
/// assert_eq!(Clip::norm(1.0)?.apply(&mut g), 5.0); // the norm before clipping
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// let mut g = [3.0f32, -0.5];
/// Clip::value(1.0)?.apply(&mut g);
/// assert_eq!(g, [1.0, -0.5]);
/// assert!(Clip::norm(0.0).is_err() && Clip::value(f64::NAN).is_err());
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Scales the gradient by `max / ||g||` when its Euclidean norm over every parameter
    /// `||g||` exceeds `max`.
    Norm(f64),
    /// Clamps every element to `[-max, max]`.
    Value(f64),
}

impl Clip {
    /// Clipping by the global norm `max`, positive and finite.
    ///
    /// ```
    /// assert_eq!(constnet::Clip::norm(5.0)?, constnet::Clip::Norm(5.0));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn norm(max: f64) -> Result<Self, Error> {
        Ok(Clip::Norm(positive("gradient clipping norm", max)?))
    }

    /// Clipping of each element to `[-max, max]`, `max` positive and finite.
    ///
    /// ```
    /// assert_eq!(constnet::Clip::value(0.5)?, constnet::Clip::Value(0.5));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn value(max: f64) -> Result<Self, Error> {
        Ok(Clip::Value(positive("gradient clipping value", max)?))
    }

    /// Checks the bound in the scalar type `T` the gradients are in (positive and finite
    /// there too: 1e300 is infinity in `f32`).
    ///
    /// ```
    /// use constnet::Clip;
    /// assert!(Clip::norm(1e300)?.check_in::<f32>().is_err());
    /// assert!(Clip::norm(1e300)?.check_in::<f64>().is_ok());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn check_in<T: Float>(&self) -> Result<(), Error> {
        let (Clip::Norm(max) | Clip::Value(max)) = *self;
        crate::optim::in_scalar::<T>("gradient clipping bound", max).map(|_| ())
    }

    /// Clips `grads` in place and returns the gradient's Euclidean norm before clipping. A
    /// gradient with a NaN or infinite element is left as it is (the trainer then stops on
    /// it, naming the tensor). Allocates nothing.
    ///
    /// ```
    /// use constnet::Clip;
    /// let mut small = [0.3f64, 0.4];
    /// assert_eq!(Clip::norm(1.0)?.apply(&mut small), 0.5);
    /// assert_eq!(small, [0.3, 0.4]); // within the bound: unchanged
    /// let mut bad = [f64::NAN, 1.0];
    /// assert!(Clip::norm(1.0)?.apply(&mut bad).is_nan());
    /// assert_eq!(bad[1], 1.0);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply<T: Float>(&self, grads: &mut [T]) -> f64 {
        const LANES: usize = 8;
        let mut lanes = [0.0f64; LANES];
        let chunks = grads.chunks_exact(LANES);
        let rest = chunks.remainder();
        for chunk in chunks {
            for (lane, g) in lanes.iter_mut().zip(chunk) {
                *lane += g.as_f64() * g.as_f64();
            }
        }
        for (lane, g) in lanes.iter_mut().zip(rest) {
            *lane += g.as_f64() * g.as_f64();
        }
        let norm = lanes.iter().sum::<f64>().sqrt();
        if !norm.is_finite() {
            return norm;
        }
        match *self {
            Clip::Norm(max) if norm > max => {
                let scale = T::of_f64(max / norm);
                grads.iter_mut().for_each(|g| *g *= scale);
            }
            Clip::Value(max) => {
                let (lo, hi) = (T::of_f64(-max), T::of_f64(max));
                for g in grads.iter_mut() {
                    *g = if *g > hi {
                        hi
                    } else if *g < lo {
                        lo
                    } else {
                        *g
                    };
                }
            }
            Clip::Norm(_) => {}
        }
        norm
    }
}
