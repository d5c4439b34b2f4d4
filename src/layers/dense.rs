//! Fully-connected layer: `y = W x + b`.
//!
//! `W` is `O x I`, stored column-major in the parameter buffer (each input's column of `W`
//! contiguous, so one sample's forward is a sequence of SIMD `axpy`s), followed by `b` (`O`).
//! The parameters are named `weight` (`[O, I]`, as PyTorch's `nn.Linear`) and `bias` (`[O]`).
//!
//! Backward, with `X` the `I x B` input batch and `dY` the `O x B` upstream gradient:
//! `dW = dY X^T`, `db = sum of dY's columns`, `dX = W^T dY`. The batched products go through
//! constnet's packed matrix product (`kernels::gemm`); the transposes are strided views of
//! the same buffers, never copies. A narrow layer whose weights fit in L1 runs its batched
//! forward as a kernel of its own instead, several samples at a time, on AVX-512 CPUs
//! (`kernels::in_l1_shape`).

use nalgebra::{DMatrixView, DMatrixViewMut, Dyn, MatrixView, SVector, U1};
use rand::RngCore;

use super::ReluMask;
use crate::batch::{BatchView, BatchViewMut};
use crate::init::Init;
use crate::kernels::{
    DETECT, ReluGate, affine, affine_grads_in_one_pass, affine_relu_keeping_bits, gemm, gemm_gated,
    gemm_gated_by_bits, gemm_in_l1, gemv, gemv_from_l2, in_l1_cpu, in_l1_shape, weights_fit_in_l1,
};
use crate::layer::{Layer, Storage, TensorKind, TensorSpec};
use crate::scalar::Float;

/// A fully-connected layer from `I` to `O` features: `y = W x + b`.
///
/// ```
/// use constnet::{Layer, layers::Dense};
/// use nalgebra::SVector;
/// // W = [[1, 2], [3, 4], [5, 6]] stored column-major, then b = [0.5, 0.5, 0.5].
/// let p = [1.0f32, 3.0, 5.0, 2.0, 4.0, 6.0, 0.5, 0.5, 0.5];
/// let y = Dense::<2, 3>::default().forward_one(&p, &[], &SVector::from([1.0, 1.0]));
/// assert_eq!(y.as_slice(), &[3.5, 7.5, 11.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Dense<const I: usize, const O: usize> {
    /// How the weights are initialized.
    pub init: Init,
    /// The value every bias starts at: 0 by default. The CS231n notes mention 0.01 for layers
    /// feeding a ReLU, so that every unit fires at first, with mixed evidence that it helps.
    pub bias: f64,
}

impl<const I: usize, const O: usize> Dense<I, O> {
    /// A dense layer whose weights are drawn with `init` and whose biases start at zero.
    ///
    /// ```
    /// let d = constnet::layers::Dense::<4, 2>::new(constnet::Init::Calibrated);
    /// assert_eq!(d.init, constnet::Init::Calibrated);
    /// assert_eq!(d.bias, 0.0);
    /// ```
    pub const fn new(init: Init) -> Self {
        Dense { init, bias: 0.0 }
    }

    /// The same layer with every bias initialized to `bias` instead.
    ///
    /// ```
    /// use constnet::{Init, Layer, layers::Dense};
    /// use rand::SeedableRng;
    /// const FC: Dense<3, 2> = Dense::new(Init::He).with_bias(0.01);
    /// let mut p = [0.0f32; 3 * 2 + 2];
    /// FC.init(&mut p, &mut constnet::SeededRng::seed_from_u64(0));
    /// assert_eq!(&p[6..], &[0.01, 0.01]);
    /// ```
    #[must_use]
    pub const fn with_bias(self, bias: f64) -> Self {
        Dense { bias, ..self }
    }

    /// This layer and a ReLU after it, for one sample: `max(0, W x + b)`.
    ///
    /// ```
    /// use constnet::layers::Dense;
    /// use nalgebra::SVector;
    /// // W = [[1, -1], [-1, 1]], b = [0, 0]: the first unit fires, the second does not.
    /// let p = [1.0f32, -1.0, -1.0, 1.0, 0.0, 0.0];
    /// let y = Dense::<2, 2>::default().forward_one_relu(&p, &SVector::from([2.0, 1.0]));
    /// assert_eq!(y.as_slice(), &[1.0, 0.0]);
    /// ```
    #[inline(always)]
    pub fn forward_one_relu<T: Float>(&self, p: &[T], x: &SVector<T, I>) -> SVector<T, O> {
        self.forward_one_with::<T, true, DETECT>(p, x)
    }

    /// `W x + b` for one sample, then `max(0, .)` when `RELU` is set, with the kernels of the
    /// instruction set `ISA` (one of `constnet_kernels`' tiers, or its `DETECT` for the
    /// CPU's, found at each call): what [`forward_one_relu`](Self::forward_one_relu) and
    /// [`Layer::forward_one`] run, and what `network!`'s copies of the single-sample pass for
    /// AVX2 and AVX-512 call with their own, so that each compiles only its kernel. `ISA`
    /// must not be above what the CPU has.
    ///
    /// ```
    /// use constnet::layers::Dense;
    /// use nalgebra::SVector;
    /// let p = [1.0f32, -1.0, -1.0, 1.0, 0.0, 0.0]; // as forward_one_relu's example
    /// use constnet_kernels::DETECT; // the CPU's instruction set, found at the call
    /// let x = SVector::from([2.0, 1.0]);
    /// let y = Dense::<2, 2>::default().forward_one_with::<f32, false, DETECT>(&p, &x);
    /// assert_eq!(y.as_slice(), &[1.0, -1.0]);
    /// ```
    #[inline(always)]
    pub fn forward_one_with<T: Float, const RELU: bool, const ISA: u8>(
        &self,
        p: &[T],
        x: &SVector<T, I>,
    ) -> SVector<T, O> {
        forward_one::<T, I, O, RELU, ISA, false>(p, x)
    }

    /// [`forward_one_with`](Self::forward_one_with) for a network's first layer, whose input
    /// is the caller's sample, often written just before the call: the AVX2 and AVX-512
    /// kernels read each input by a load of its own, which the caller's stores forward to
    /// whatever their size (for a deeper layer, whose input is the previous layer's output in
    /// registers, that would send it through memory). `network!`'s single-sample pass calls
    /// it for its first layer.
    ///
    /// ```
    /// use constnet::layers::Dense;
    /// use nalgebra::SVector;
    /// let p = [1.0f32, -1.0, -1.0, 1.0, 0.0, 0.0]; // as forward_one_relu's example
    /// use constnet_kernels::DETECT;
    /// let x = SVector::from([2.0, 1.0]);
    /// let y = Dense::<2, 2>::default().forward_input_with::<f32, true, DETECT>(&p, &x);
    /// assert_eq!(y.as_slice(), &[1.0, 0.0]);
    /// ```
    #[inline(always)]
    pub fn forward_input_with<T: Float, const RELU: bool, const ISA: u8>(
        &self,
        p: &[T],
        x: &SVector<T, I>,
    ) -> SVector<T, O> {
        forward_one::<T, I, O, RELU, ISA, true>(p, x)
    }

    /// This layer and a ReLU after it, for a batch: `Y = max(0, W X + b)`, written once. The
    /// `network!` expansion calls it for every `Dense` followed by a `Relu`, and keeps only
    /// the ReLU's output on the tape (the ReLU's backward needs only where it is positive),
    /// which saves a pass over the layer's output each way (the spiral net's 120 KB hidden
    /// layer). With a `mask`, where the product's kernel can, it also records where `Y` is
    /// positive, one bit per element, for
    /// [`backward_through_relu`](Self::backward_through_relu).
    ///
    /// ```
    /// use constnet::{Batch, layers::{Dense, ReluMask}};
    /// let p = [1.0f32, -1.0, -1.0, 1.0, 0.0, 0.0];
    /// let x = Batch::<f32, 2>::from_column_slice(&[2.0, 1.0, 1.0, 3.0]);
    /// let mut y = Batch::<f32, 2>::zeros(2);
    /// let mut mask = ReluMask::new(2, 2);
    /// Dense::<2, 2>::default().forward_relu(&p, x.columns(0, 2), y.columns_mut(0, 2), Some(&mut mask));
    /// assert_eq!(y.as_slice(), &[1.0, 0.0, 0.0, 2.0]);
    /// ```
    pub fn forward_relu<T: Float>(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        mut y: BatchViewMut<'_, T, O>,
        mask: Option<&mut ReluMask>,
    ) {
        let b = &p[O * I..O * I + O];
        if const { in_l1_shape::<T>(I, O) } && in_l1_cpu() {
            gemm_in_l1::<T, I, O, true>(p, x.as_slice(), b, y.as_mut_slice());
            if let Some(mask) = mask {
                mask.set_batch(None);
            }
            return;
        }
        let (w, xs) = (weight_any(p, O, I), Cols::of(&x).view());
        let mut ys = ColsMut::of(&mut y).view();
        match mask {
            Some(mask) => {
                let bytes = mask.column_bytes();
                let written = affine_relu_keeping_bits(&w, &xs, b, &mut ys, mask.bits_mut(), bytes);
                mask.set_batch(written.then_some(x.ncols()));
            }
            None => affine(&w, &xs, b, true, &mut ys),
        }
    }

    /// The backward pass of a ReLU followed by this layer, whose input `x` is that ReLU's
    /// output: as [`Layer::backward`] (or [`Layer::backward_overwrite`] when `accumulate` is
    /// false), except that `dx` receives the gradient with respect to the ReLU's *input*,
    /// `(W^T dY) ⊙ [x > 0]`, in the same pass as the product. With the `mask` the forward
    /// pass recorded for this batch, the product reads its bits instead of `x`.
    ///
    /// ```
    /// use constnet::{Batch, layers::Dense};
    /// // W = [[1, -1]], b = [0]; x is a ReLU's output, so its zero did not fire.
    /// let p = [1.0f64, -1.0, 0.0];
    /// let x = Batch::<f64, 2>::from_column_slice(&[3.0, 0.0]);
    /// let dy = Batch::<f64, 1>::from_column_slice(&[2.0]);
    /// let (mut dx, mut dp) = (Batch::<f64, 2>::zeros(1), [0.0; 3]);
    /// Dense::<2, 1>::default().backward_through_relu(
    ///     &p, x.columns(0, 1), dy.columns(0, 1), Some(dx.columns_mut(0, 1)), &mut dp, false, None,
    /// );
    /// assert_eq!(dx.as_slice(), &[2.0, 0.0]); // W^T dy = [2, -2], gated by x > 0
    /// assert_eq!(dp, [6.0, 0.0, 2.0]);
    /// ```
    #[expect(
        clippy::too_many_arguments,
        reason = "the arguments of `Layer::backward`, with the accumulate flag and the mask"
    )]
    pub fn backward_through_relu<T: Float>(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dp: &mut [T],
        accumulate: bool,
        mask: Option<&ReluMask>,
    ) {
        let (gate, mut dx) = (Gate::through_relu(mask, x.ncols()), dx);
        let dx = dx.as_mut().map(|dx| (ColsMut::of(dx), gate));
        affine_backward(p, Cols::of(&x), Cols::of(&dy), dx, dp, accumulate);
    }

    /// [`backward_through_relu`](Self::backward_through_relu) followed by a plain SGD step
    /// on this layer's parameters, `p -= lr * (dp + weight_decay * p)` on the weights and
    /// `p -= lr * dp` on the biases, in the way of
    /// [`Layer::backward_sgd`](crate::Layer::backward_sgd): the gradient is never written
    /// out.
    ///
    /// ```
    /// use constnet::{Batch, layers::Dense};
    /// let mut p = [1.0f64, -1.0, 0.0];
    /// let x = Batch::<f64, 2>::from_column_slice(&[3.0, 0.0]);
    /// let dy = Batch::<f64, 1>::from_column_slice(&[2.0]);
    /// let mut dx = Batch::<f64, 2>::zeros(1);
    /// let mut scratch = [0.0; 3];
    /// Dense::<2, 1>::default().backward_through_relu_sgd(
    ///     &mut p, x.columns(0, 1), dy.columns(0, 1), Some(dx.columns_mut(0, 1)), 0.5, 0.0, None,
    ///     &mut scratch,
    /// );
    /// assert_eq!(dx.as_slice(), &[2.0, 0.0]); // from the weights before the step
    /// assert_eq!(p, [1.0 - 3.0, -1.0, -1.0]); // minus half of [6, 0, 2]
    /// ```
    #[expect(
        clippy::too_many_arguments,
        reason = "the arguments of `Layer::backward_sgd`, with the mask"
    )]
    pub fn backward_through_relu_sgd<T: Float>(
        &self,
        p: &mut [T],
        x: BatchView<'_, T, I>,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        lr: T,
        weight_decay: T,
        mask: Option<&ReluMask>,
        scratch: &mut [T],
    ) {
        let (gate, mut dx) = (Gate::through_relu(mask, x.ncols()), dx);
        let dx = dx.as_mut().map(|dx| (ColsMut::of(dx), gate));
        let (x, dy) = (Cols::of(&x), Cols::of(&dy));
        affine_backward_sgd(p, x, dy, dx, (lr, weight_decay), scratch);
    }
}

/// `W x + b` for one sample of a `Dense<I, O>` layer (its parameters `p`), then `max(0, .)`
/// when `RELU` is set: [`Dense::forward_one_with`] and, with `FRESH`,
/// [`Dense::forward_input_with`].
#[inline(always)]
fn forward_one<
    T: Float,
    const I: usize,
    const O: usize,
    const RELU: bool,
    const ISA: u8,
    const FRESH: bool,
>(
    p: &[T],
    x: &SVector<T, I>,
) -> SVector<T, O> {
    // Weights that fit in L1 take register-blocked kernels (W1: 84-112 ns with
    // nalgebra's product, 60-65 ns with the AVX-512 one, 43-45 ns with its 512-bit paths
    // in a build for AVX-512); larger ones stream from L2, where an AVX2 kernel that
    // reads them in storage order beat nalgebra's product (W2 on a Zen 1 core).
    let mut y = SVector::<T, O>::zeros();
    let (x, b, out) = (x.as_slice(), &p[O * I..], y.as_mut_slice());
    if const { weights_fit_in_l1::<T>(I, O) } {
        gemv::<T, I, O, RELU, ISA, FRESH>(p, x, b, out);
    } else {
        gemv_from_l2::<T, I, O, RELU, ISA>(p, x, b, out);
    }
    y
}

impl<const I: usize, const O: usize> Dense<I, O> {
    /// The backward pass of this layer, reading the ReLU of the network's first layer (a
    /// `Dense` with `I0` inputs), and of that first layer, in one: this layer's `dp` as in
    /// [`backward_through_relu`](Self::backward_through_relu), and the first layer's
    /// weight and bias gradients `first_dp` from its input `x`, where the first layer's
    /// output gradient is computed column by column in registers and never stored. Neither
    /// layer's input gradient is computed. Returns `false`, computing nothing, where that
    /// kernel does not apply (no AVX-512, or no AVX2 in `f32`; `I0` over 2; `O` over 16); the
    /// two backward passes must then run as usual. `network!` calls it for a network that
    /// starts `Dense`, `Relu`, `Dense` when no input gradient is asked for: the spiral net's
    /// step.
    ///
    /// ```
    /// use constnet::{Batch, layers::{Dense, ReluMask}};
    /// // The first layer 1 -> 2 with W = [1, -1], b = 0; then this layer 2 -> 1, W = [2, 3].
    /// let (first, second) = (Dense::<1, 2>::default(), Dense::<2, 1>::default());
    /// let p1 = [1.0f32, -1.0, 0.0, 0.0];
    /// let p2 = [2.0f32, 3.0, 0.0];
    /// let x = Batch::<f32, 1>::from_column_slice(&[4.0]);
    /// let mut h = Batch::<f32, 2>::zeros(1);
    /// first.forward_relu(&p1, x.columns(0, 1), h.columns_mut(0, 1), None); // h = [4, 0]
    /// let dy = Batch::<f32, 1>::from_column_slice(&[1.0]);
    /// let (mut dp2, mut dp1) = ([0.0f32; 3], [0.0f32; 4]);
    /// let done = second.backward_through_relu_into_first(
    ///     &p2, h.columns(0, 1), dy.columns(0, 1), &mut dp2, x.columns(0, 1), &mut dp1, false, None,
    /// );
    /// if done {
    ///     assert_eq!(dp2, [4.0, 0.0, 1.0]); // dW2 = dy h^T, db2 = dy
    ///     assert_eq!(dp1, [8.0, 0.0, 2.0, 0.0]); // dz1 = [2, 3] gated by h > 0 = [2, 0]
    /// }
    /// ```
    #[expect(
        clippy::too_many_arguments,
        reason = "the backward arguments of two layers, the accumulate flag and the mask"
    )]
    pub fn backward_through_relu_into_first<T: Float, const I0: usize>(
        &self,
        p: &[T],
        h: BatchView<'_, T, I>,
        dy: BatchView<'_, T, O>,
        dp: &mut [T],
        x: BatchView<'_, T, I0>,
        first_dp: &mut [T],
        accumulate: bool,
        mask: Option<&ReluMask>,
    ) -> bool {
        let batch = h.ncols();
        let gate = relu_gate(&h, mask);
        let beta = if accumulate { T::ONE } else { T::ZERO };
        let shape = (O, I, batch);
        let first = &mut first_dp[..I * (I0 + 1)];
        let (dz, xs) = (dy.as_slice(), x.as_slice());
        let scale = (T::ONE, beta, beta);
        if !T::first_layer_grads(&p[..O * I], shape, dz, xs, I0, gate, scale, first) {
            return false;
        }
        affine_backward(p, Cols::of(&h), Cols::of(&dy), None, dp, accumulate);
        true
    }

    /// [`backward_through_relu_into_first`](Self::backward_through_relu_into_first) with a
    /// plain SGD step on both layers' parameters (`first_p` the first layer's), in the way of
    /// [`backward_through_relu_sgd`](Self::backward_through_relu_sgd): the first layer steps
    /// from the gradient as its kernel sums it, before this layer's weights, which that
    /// gradient reads, take their own step. Returns `false`, changing nothing, where the
    /// kernel does not apply.
    ///
    /// ```
    /// use constnet::{Batch, layers::{Dense, ReluMask}};
    /// let (first, second) = (Dense::<1, 2>::default(), Dense::<2, 1>::default());
    /// let mut p1 = [1.0f32, -1.0, 0.0, 0.0];
    /// let mut p2 = [2.0f32, 3.0, 0.0];
    /// let x = Batch::<f32, 1>::from_column_slice(&[4.0]);
    /// let mut h = Batch::<f32, 2>::zeros(1);
    /// first.forward_relu(&p1, x.columns(0, 1), h.columns_mut(0, 1), None); // h = [4, 0]
    /// let dy = Batch::<f32, 1>::from_column_slice(&[1.0]);
    /// let mut scratch = [0.0f32; 3]; // this layer has two inputs: its gradient goes here first
    /// let done = second.backward_through_relu_into_first_sgd(
    ///     &mut p2, h.columns(0, 1), dy.columns(0, 1), x.columns(0, 1), &mut p1, (0.5, 0.0),
    ///     None, &mut scratch,
    /// );
    /// if done {
    ///     assert_eq!(p2, [0.0, 3.0, -0.5]); // minus half of [4, 0, 1]
    ///     assert_eq!(p1, [-3.0, -1.0, -1.0, 0.0]); // minus half of [8, 0, 2, 0]
    /// }
    /// ```
    #[expect(
        clippy::too_many_arguments,
        reason = "the backward arguments of two layers, the step's rates and the mask"
    )]
    pub fn backward_through_relu_into_first_sgd<T: Float, const I0: usize>(
        &self,
        p: &mut [T],
        h: BatchView<'_, T, I>,
        dy: BatchView<'_, T, O>,
        x: BatchView<'_, T, I0>,
        first_p: &mut [T],
        (lr, weight_decay): (T, T),
        mask: Option<&ReluMask>,
        scratch: &mut [T],
    ) -> bool {
        let batch = h.ncols();
        let gate = relu_gate(&h, mask);
        let shape = (O, I, batch);
        let first = &mut first_p[..I * (I0 + 1)];
        let (dz, xs) = (dy.as_slice(), x.as_slice());
        let scale = (-lr, T::ONE - lr * weight_decay, T::ONE);
        if !T::first_layer_grads(&p[..O * I], shape, dz, xs, I0, gate, scale, first) {
            return false;
        }
        let (h, dy) = (Cols::of(&h), Cols::of(&dy));
        affine_backward_sgd(p, h, dy, None, (lr, weight_decay), scratch);
        true
    }
}

/// The gate of the first-layer kernel for a ReLU whose output is `h`: its mask's bits where
/// they hold `h`'s batch, `h` itself otherwise.
fn relu_gate<'a, T: Float, const I: usize>(
    h: &'a BatchView<'_, T, I>,
    mask: Option<&'a ReluMask>,
) -> ReluGate<'a, T> {
    match Gate::through_relu(mask, h.ncols()) {
        Gate::Bits(mask) => ReluGate::Bits(mask.bits(), mask.column_bytes()),
        _ => ReluGate::Output(h.as_slice()),
    }
}

/// The scratch [`affine_backward_sgd`] needs: the whole gradient of a layer whose weight
/// gradient takes the one-pass kernel (one or two inputs), none otherwise.
const fn affine_sgd_scratch(inputs: usize, params: usize) -> usize {
    if inputs <= 2 { params } else { 0 }
}

/// The backward pass of `z = W x + b` (as [`affine_backward`], for an `R x I` weight) and a
/// plain SGD step with rate `lr` and weight decay `decay` on `W` only: `dX` from the weights
/// before the step, then `W = (1 - lr decay) W - lr dZ X^T` as one product into `W` and `b
/// -= lr` times each column of `dZ`, so that `dW` is never written out and read back. A
/// layer with one or two inputs computes its gradient into `scratch` with the one-pass
/// kernel instead (it is at most `R * 3` elements). Unlike
/// [`Sgd::step`](crate::Optimizer::step), subnormal weights are not flushed to zero.
pub(crate) fn affine_backward_sgd<T: Float>(
    p: &mut [T],
    x: Cols<'_, T>,
    dz: Cols<'_, T>,
    dx: Option<(ColsMut<'_, T>, Gate<'_>)>,
    (lr, decay): (T, T),
    scratch: &mut [T],
) {
    let (inputs, rows) = (x.rows, dz.rows);
    let len = rows * (inputs + 1);
    if inputs <= 2 {
        let grads = &mut scratch[..len];
        affine_backward(p, x, dz, dx, grads, false);
        let (w, b) = p[..len].split_at_mut(rows * inputs);
        let (gw, gb) = grads.split_at(rows * inputs);
        for (p, &g) in w.iter_mut().zip(gw) {
            *p -= lr * (g + decay * *p);
        }
        for (p, &g) in b.iter_mut().zip(gb) {
            *p -= lr * g;
        }
        return;
    }
    affine_input_grad(p, x, dz, dx);
    let (w, b) = p[..len].split_at_mut(rows * inputs);
    let mut w = DMatrixViewMut::from_slice(w, rows, inputs);
    gemm(
        -lr,
        &dz.view(),
        &x.transposed(),
        T::ONE - lr * decay,
        &mut w,
    );
    dz.step(b, lr);
}

/// `y = W x + b` for `x` of any length and `y` of any length (`W` the `y.len() x x.len()`
/// column-major matrix at the start of `p`, `b` after it), column by column: what the
/// generated `for_each_activation` calls for a `Dense` layer, which is for diagnostics, where
/// the time a program takes to build matters more than this product's speed. One copy per
/// scalar type serves every shape; it is not inlined, or the pass of a 10-layer network would
/// hold ten copies of its loops. The sums are a `Dense` layer's own, rounded in their own
/// order, so they can differ from its `forward_one`'s in the last bits.
///
/// ```
/// // W = [[1, 2], [3, 4]], b = [0.5, -0.5]
/// let p = [1.0f32, 3.0, 2.0, 4.0, 0.5, -0.5];
/// let mut y = [0.0f32; 2];
/// constnet::__private::affine_any_width(&p, &[1.0, -1.0], &mut y);
/// assert_eq!(y, [-0.5, -1.5]);
/// ```
#[inline(never)]
pub fn affine_any_width<T: Float>(p: &[T], x: &[T], y: &mut [T]) {
    let (inputs, outputs) = (x.len(), y.len());
    let (w, b) = p.split_at(outputs * inputs);
    y.copy_from_slice(&b[..outputs]);
    for (column, &xj) in w.chunks_exact(outputs).zip(x) {
        for (yi, &wij) in y.iter_mut().zip(column) {
            *yi += wij * xj;
        }
    }
}

/// `W` as a `rows x inputs` view of the first `rows * inputs` parameters, its size known
/// at run time (see [`Cols`]).
pub(crate) fn weight_any<T: Float>(p: &[T], rows: usize, inputs: usize) -> DMatrixView<'_, T> {
    DMatrixView::from_slice(&p[..rows * inputs], rows, inputs)
}

/// A batch (of samples or of gradients) as the affine passes here take it: its elements,
/// column by column, and its height. With their sizes known only at run time these passes
/// are compiled once per scalar type rather than once per layer shape, in every program
/// that trains a network; their kernels take run-time sizes in any case.
///
/// It also carries the loops over its columns that a bias gradient or step makes: there a
/// short column is a few elements, and a loop compiled for its height (unrolled) costs a
/// fraction of one that is not (W4's 3-row output layer, and its 100-row hidden one, whose
/// loop then has no remainder).
#[derive(Clone, Copy)]
pub(crate) struct Cols<'a, T> {
    data: &'a [T],
    rows: usize,
    sums: ColumnSums<T>,
}

impl<'a, T: Float> Cols<'a, T> {
    /// `data`'s columns of `rows` elements.
    pub(crate) fn new(data: &'a [T], rows: usize) -> Self {
        Cols {
            data,
            rows,
            sums: ColumnSums::any(),
        }
    }

    /// A batch's columns.
    pub(crate) fn of<const N: usize>(x: &'a BatchView<'_, T, N>) -> Self {
        Cols {
            data: x.as_slice(),
            rows: N,
            sums: ColumnSums::of::<N>(),
        }
    }

    /// `sums += each column`, the columns in order.
    fn add_to(&self, sums: &mut [T]) {
        (self.sums.add)(&mut sums[..self.rows], self.data);
    }

    /// `values -= lr * each column`, the columns in order.
    fn step(&self, values: &mut [T], lr: T) {
        (self.sums.step)(&mut values[..self.rows], self.data, lr);
    }

    fn batch(&self) -> usize {
        self.data.len() / self.rows
    }

    pub(crate) fn view(&self) -> DMatrixView<'a, T> {
        DMatrixView::from_slice(self.data, self.rows, self.batch())
    }

    /// `X^T`, `B x I`: a view of the same elements with the strides swapped.
    fn transposed(&self) -> MatrixView<'a, T, Dyn, Dyn, Dyn, U1> {
        let (batch, rows) = (Dyn(self.batch()), Dyn(self.rows));
        MatrixView::from_slice_with_strides_generic(self.data, batch, rows, rows, U1)
    }
}

/// A batch written to, as [`Cols`] reads one.
pub(crate) struct ColsMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
}

impl<'a, T: Float> ColsMut<'a, T> {
    /// A batch's columns.
    pub(crate) fn of<const N: usize>(x: &'a mut BatchViewMut<'_, T, N>) -> Self {
        ColsMut {
            data: x.as_mut_slice(),
            rows: N,
        }
    }

    pub(crate) fn view(self) -> DMatrixViewMut<'a, T> {
        let batch = self.data.len() / self.rows;
        DMatrixViewMut::from_slice(self.data, self.rows, batch)
    }
}

impl<T: Float, const I: usize, const O: usize> Layer<T, I, O> for Dense<I, O> {
    const PARAMS: usize = O * I + O;
    const SGD_SCRATCH: usize = affine_sgd_scratch(I, O * I + O);
    const TENSORS: &'static [TensorSpec] = &[
        TensorSpec {
            name: "weight",
            shape: &[O, I],
            offset: 0,
            storage: Storage::ColumnMajor,
            kind: TensorKind::Weight,
        },
        TensorSpec {
            name: "bias",
            shape: &[O],
            offset: O * I,
            storage: Storage::RowMajor,
            kind: TensorKind::Bias,
        },
    ];
    type Cache = ();

    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn init(&self, params: &mut [T], rng: &mut dyn RngCore) {
        let (w, b) = params.split_at_mut(O * I);
        // `w` is whole columns of `I >= 1` inputs (a zero width does not compile).
        self.init
            .fill(w, I, rng)
            .expect("a layer's weights are whole columns of its inputs");
        b.fill(T::of_f64(self.bias));
    }

    fn new_cache(&self, _max_batch: usize) {}

    #[inline(always)]
    fn forward_one(&self, p: &[T], _state: &[T], x: &SVector<T, I>) -> SVector<T, O> {
        self.forward_one_with::<T, false, DETECT>(p, x)
    }

    fn forward(
        &self,
        p: &[T],
        _state: &[T],
        x: BatchView<'_, T, I>,
        mut y: BatchViewMut<'_, T, O>,
    ) {
        let b = &p[O * I..O * I + O];
        if const { in_l1_shape::<T>(I, O) } && in_l1_cpu() {
            gemm_in_l1::<T, I, O, false>(p, x.as_slice(), b, y.as_mut_slice());
            return;
        }
        let (w, x) = (weight_any(p, O, I), Cols::of(&x).view());
        affine(&w, &x, b, false, &mut ColsMut::of(&mut y).view());
    }

    fn backward(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        _y: BatchView<'_, T, O>,
        _cache: &mut (),
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dp: &mut [T],
    ) {
        let mut dx = dx;
        let dx = dx.as_mut().map(|dx| (ColsMut::of(dx), Gate::None));
        affine_backward(p, Cols::of(&x), Cols::of(&dy), dx, dp, true);
    }

    fn backward_overwrite(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        _y: BatchView<'_, T, O>,
        _cache: &mut (),
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dp: &mut [T],
    ) {
        let mut dx = dx;
        let dx = dx.as_mut().map(|dx| (ColsMut::of(dx), Gate::None));
        affine_backward(p, Cols::of(&x), Cols::of(&dy), dx, dp, false);
    }

    fn backward_sgd(
        &self,
        p: &mut [T],
        x: BatchView<'_, T, I>,
        _y: BatchView<'_, T, O>,
        _cache: &mut (),
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        lr: T,
        weight_decay: T,
        scratch: &mut [T],
    ) {
        let mut dx = dx;
        let dx = dx.as_mut().map(|dx| (ColsMut::of(dx), Gate::None));
        let (x, dy) = (Cols::of(&x), Cols::of(&dy));
        affine_backward_sgd(p, x, dy, dx, (lr, weight_decay), scratch);
    }
}

/// How the input gradient of an affine layer is gated: not at all, or as the gradient
/// through a ReLU whose output is the layer's input `X`: `(W^T dZ) ⊙ [X > 0]`, read from
/// `X` or from the bits of its mask.
#[derive(Clone, Copy)]
pub(crate) enum Gate<'a> {
    None,
    Input,
    Bits(&'a ReluMask),
}

impl<'a> Gate<'a> {
    /// The gate through a ReLU whose output is `x`, from its mask where that holds `x`'s
    /// batch.
    fn through_relu(mask: Option<&'a ReluMask>, batch: usize) -> Self {
        match mask {
            Some(mask) if mask.batch() == Some(batch) => Gate::Bits(mask),
            _ => Gate::Input,
        }
    }
}

/// The backward pass of `z = W x + b` with `W` the `R x I` column-major matrix at the start of
/// `p` and `b` the `R` values after it, shared by [`Dense`] and
/// [`Maxout`](crate::layers::Maxout): `dW += dZ X^T`, `db += the sum of dZ's columns`,
/// `dX = W^T dZ` (when asked for, gated as its `Gate` says). With `accumulate` false, `dW`
/// and `db` are overwritten instead (and not read).
pub(crate) fn affine_backward<T: Float>(
    p: &[T],
    x: Cols<'_, T>,
    dz: Cols<'_, T>,
    dx: Option<(ColsMut<'_, T>, Gate<'_>)>,
    dp: &mut [T],
    accumulate: bool,
) {
    let (inputs, rows) = (x.rows, dz.rows);
    let beta = if accumulate { T::ONE } else { T::ZERO };
    let dz_view = dz.view();
    if affine_grads_in_one_pass(&dz_view, &x.view(), beta, &mut dp[..rows * (inputs + 1)]) {
        affine_input_grad(p, x, dz, dx);
        return;
    }
    let (dw, db) = dp.split_at_mut(rows * inputs);
    // dW += dZ X^T, with X^T a B x I view of X's buffer.
    let mut dw = DMatrixViewMut::from_slice(dw, rows, inputs);
    gemm(T::ONE, &dz_view, &x.transposed(), beta, &mut dw);
    // db += the sum of dZ's columns.
    let db = &mut db[..rows];
    if !accumulate {
        db.fill(T::ZERO);
    }
    dz.add_to(db);
    affine_input_grad(p, x, dz, dx);
}

/// The loops of [`Cols::add_to`] and [`Cols::step`], each a plain function over slices
/// that do not overlap (so that they vectorize without run-time checks), compiled for one
/// column height or for any.
#[derive(Clone, Copy)]
struct ColumnSums<T> {
    add: fn(&mut [T], &[T]),
    step: fn(&mut [T], &[T], T),
}

impl<T: Float> ColumnSums<T> {
    fn of<const R: usize>() -> Self {
        ColumnSums {
            add: |sums, data| fold_columns(&mut sums[..R], data, |g, d| g + d),
            step: |values, data, lr| fold_columns(&mut values[..R], data, |b, d| b - lr * d),
        }
    }

    fn any() -> Self {
        ColumnSums {
            add: |sums, data| fold_columns(sums, data, |g, d| g + d),
            step: |values, data, lr| fold_columns(values, data, |b, d| b - lr * d),
        }
    }
}

/// `acc[i] = f(acc[i], column[i])` for each column of `data` in turn, the columns as tall as
/// `acc` (whose length, inlined into [`ColumnSums::of`], is a constant).
#[inline(always)]
fn fold_columns<T: Float>(acc: &mut [T], data: &[T], f: impl Fn(T, T) -> T) {
    for column in data.chunks_exact(acc.len()) {
        for (a, &d) in acc.iter_mut().zip(column) {
            *a = f(*a, d);
        }
    }
}

/// `dX = W^T dZ` (when asked for; gated as its `Gate` says), with `W^T` an `I x R` view of
/// `W`'s elements (strides swapped, no copy).
fn affine_input_grad<T: Float>(
    p: &[T],
    x: Cols<'_, T>,
    dz: Cols<'_, T>,
    dx: Option<(ColsMut<'_, T>, Gate<'_>)>,
) {
    if let Some((dx, gate)) = dx {
        let (inputs, rows) = (Dyn(x.rows), Dyn(dz.rows));
        let w_t = MatrixView::from_slice_with_strides_generic(
            &p[..x.rows * dz.rows],
            inputs,
            rows,
            rows,
            U1,
        );
        let (dz, mut dx) = (dz.view(), dx.view());
        match gate {
            Gate::None => gemm(T::ONE, &w_t, &dz, T::ZERO, &mut dx),
            Gate::Bits(mask)
                if gemm_gated_by_bits(&w_t, &dz, mask.bits(), mask.column_bytes(), &mut dx) => {}
            Gate::Bits(_) | Gate::Input => gemm_gated(&w_t, &dz, &x.view(), &mut dx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use approx::assert_relative_eq;

    // W = [[1, 2], [3, 4], [5, 6]], b = [0.1, 0.2, 0.3], stored column-major then b.
    const P: [f64; 9] = [1.0, 3.0, 5.0, 2.0, 4.0, 6.0, 0.1, 0.2, 0.3];

    #[test]
    fn dense_forward_batch_matches_hand_computed_w_x_plus_b() {
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, -1.0, 0.5, 2.0]);
        let mut y = Batch::<f64, 3>::zeros(2);
        Dense::<2, 3>::default().forward(&P, &[], x.columns(0, 2), y.columns_mut(0, 2));
        // [1*1 + 2*-1, 3*1 + 4*-1, 5*1 + 6*-1] + b, then [1*.5 + 2*2, 3*.5 + 4*2, 5*.5 + 6*2] + b
        let expected = [-0.9, -0.8, -0.7, 4.6, 9.7, 14.8];
        assert_relative_eq!(y.as_slice(), &expected[..], epsilon = 1e-12);
    }

    #[test]
    fn dense_backward_matches_hand_computed_gradients() {
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, -1.0, 0.5, 2.0]);
        let y = Batch::<f64, 3>::zeros(2);
        let dy = Batch::<f64, 3>::from_column_slice(&[1.0, 0.0, -1.0, 2.0, 1.0, 0.0]);
        let mut dx = Batch::<f64, 2>::zeros(2);
        let mut dp = [0.0; 9];
        Dense::<2, 3>::default().backward(
            &P,
            x.columns(0, 2),
            y.columns(0, 2),
            &mut (),
            dy.columns(0, 2),
            Some(dx.columns_mut(0, 2)),
            &mut dp,
        );
        // dW = dY X^T: row o is dy[o,0] * x0 + dy[o,1] * x1.
        // o=0: [1*1 + 2*.5, 1*-1 + 2*2] = [2, 3]; o=1: [.5, 2]; o=2: [-1, 1]
        let dw_col_major = [2.0, 0.5, -1.0, 3.0, 2.0, 1.0];
        assert_relative_eq!(&dp[..6], &dw_col_major[..], epsilon = 1e-12);
        assert_relative_eq!(&dp[6..], &[3.0, 1.0, -1.0][..], epsilon = 1e-12);
        // dX = W^T dY: column 0 = [1*1 + 5*-1, 2*1 + 6*-1] = [-4, -4]; column 1 = [5, 8]
        assert_relative_eq!(dx.as_slice(), &[-4.0, -4.0, 5.0, 8.0][..], epsilon = 1e-12);
    }

    #[test]
    fn dense_backward_accumulates_into_parameter_gradients() {
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0]);
        let y = Batch::<f64, 3>::zeros(1);
        let dy = Batch::<f64, 3>::from_column_slice(&[1.0, 1.0, 1.0]);
        let mut dp = [1.0; 9];
        Dense::<2, 3>::default().backward(
            &P,
            x.columns(0, 1),
            y.columns(0, 1),
            &mut (),
            dy.columns(0, 1),
            None,
            &mut dp,
        );
        assert_relative_eq!(&dp[..], &[2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0][..]);
    }

    /// Narrow layers take the kernel for weights in L1 on AVX-512 CPUs and wide ones the
    /// packed product: both give `W X + b`.
    #[test]
    fn dense_batched_forward_is_w_x_plus_b_on_both_paths() {
        fn check<const I: usize, const O: usize>() {
            let p: Vec<f64> = (0..O * I + O)
                .map(|v| ((v * 7) % 13) as f64 - 6.0)
                .collect();
            let x = Batch::<f64, I>::from_fn(37, |i, j| ((i * 3 + j * 5) % 11) as f64 - 5.0);
            let mut y = Batch::<f64, O>::zeros(37);
            Dense::<I, O>::default().forward(&p, &[], x.columns(0, 37), y.columns_mut(0, 37));
            let w = nalgebra::SMatrixView::<f64, O, I>::from_slice(&p[..O * I]);
            let b = SVector::<f64, O>::from_column_slice(&p[O * I..]);
            for (j, column) in y.column_iter().enumerate() {
                assert_eq!(column, w * x.column(j) + b, "{I} -> {O}, sample {j}");
            }
        }
        check::<2, 100>();
        check::<100, 12>();
        check::<300, 200>();
    }

    #[test]
    fn dense_single_sample_forward_equals_batched_forward() {
        let x = Batch::<f64, 2>::from_column_slice(&[0.3, -0.7]);
        let mut y = Batch::<f64, 3>::zeros(1);
        let dense = Dense::<2, 3>::default();
        dense.forward(&P, &[], x.columns(0, 1), y.columns_mut(0, 1));
        let one = dense.forward_one(&P, &[], &SVector::from([0.3, -0.7]));
        assert_relative_eq!(one.as_slice(), y.as_slice(), epsilon = 1e-15);
    }
}
