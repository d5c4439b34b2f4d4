//! Batch normalization (Ioffe and Szegedy 2015), per feature over the batch.
//!
//! Training, for each feature `j` over the `B` samples of the batch:
//! `mu = mean(x)`, `var = mean((x - mu)^2)` (the biased variance, as the course's reference
//! implementation), `x_hat = (x - mu) / sqrt(var + eps)`, `y = gamma * x_hat + beta`; then the
//! running statistics move towards the batch's:
//! `running = momentum * running + (1 - momentum) * batch`, and the count of training
//! batches (`num_batches_tracked`, as PyTorch keeps it) goes up by one.
//! Evaluation: `y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta`.
//!
//! Backward through the batch statistics, with `g = dy * gamma`:
//! `dbeta = sum(dy)`, `dgamma = sum(dy * x_hat)`,
//! `dx = (B * g - sum(g) - x_hat * sum(g * x_hat)) / (B * sqrt(var + eps))`.
//!
//! Differences from PyTorch's `nn.BatchNorm1d`: PyTorch's `momentum = 0.1` weighs the new
//! batch (ours, 0.9, weighs the old average: the same default), and PyTorch's running
//! variance uses the unbiased batch variance.

use nalgebra::SVector;

use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::layer::{Layer, ScaleShift, Storage, TensorKind, TensorSpec};
use crate::scalar::Float;

/// Batch normalization of any width, with a learnable scale `gamma` (`weight`, starting at 1)
/// and shift `beta` (`bias`, starting at 0), and running mean and variance (`running_mean`
/// starting at 0, `running_var` at 1) kept as network state, with the number of training
/// batches seen (`num_batches_tracked`, as in PyTorch's state dict).
///
/// In `network!`: `bn: BatchNorm`, or `bn: BatchNorm(momentum = 0.99, eps = 1e-3)`.
///
/// ```
/// use constnet::{Layer, layers::BatchNorm};
/// use nalgebra::SVector;
/// let bn = BatchNorm::new(0.9, 1e-5)?;
/// // Evaluation: gamma = 2, beta = 1, running mean 3 and variance 4 (eps aside).
/// let y = bn.forward_one(&[2.0f64, 1.0], &[3.0, 4.0], &SVector::<f64, 1>::from([5.0]));
/// assert!((y[0] - (2.0 * (5.0 - 3.0) / (4.0f64 + 1e-5).sqrt() + 1.0)).abs() < 1e-12);
/// assert!(BatchNorm::new(1.0, 1e-5).is_err() && BatchNorm::new(0.9, 0.0).is_err());
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    momentum: f64,
    eps: f64,
}

impl BatchNorm {
    /// The default momentum of the running statistics.
    ///
    /// ```
    /// use constnet::layers::BatchNorm;
    /// assert_eq!(BatchNorm::DEFAULT_MOMENTUM, 0.9);
    /// assert_eq!(BatchNorm::default().momentum(), BatchNorm::DEFAULT_MOMENTUM);
    /// ```
    pub const DEFAULT_MOMENTUM: f64 = 0.9;
    /// The default `eps` added to the variance.
    ///
    /// ```
    /// use constnet::layers::BatchNorm;
    /// assert_eq!(BatchNorm::DEFAULT_EPS, 1e-5);
    /// assert_eq!(BatchNorm::default().eps(), BatchNorm::DEFAULT_EPS);
    /// ```
    pub const DEFAULT_EPS: f64 = 1e-5;

    /// Batch norm with running-statistics `momentum` in `[0, 1)` and `eps` finite and at least
    /// `f32::MIN_POSITIVE`, so that it is not 0 in an `f32` network.
    ///
    /// ```
    /// use constnet::{Error, layers::BatchNorm};
    /// let bn = BatchNorm::new(0.0, 1e-3)?; // momentum 0: running statistics of the last batch
    /// assert_eq!((bn.momentum(), bn.eps()), (0.0, 1e-3));
    /// assert!(matches!(BatchNorm::new(-0.1, 1e-5), Err(Error::BadHyperparameter { .. })));
    /// assert!(BatchNorm::new(0.9, f64::INFINITY).is_err());
    /// assert!(BatchNorm::new(0.9, 1e-50).is_err()); // 0 in f32
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(momentum: f64, eps: f64) -> Result<Self, Error> {
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::BadHyperparameter {
                name: "batch norm momentum",
                value: momentum,
                expected: "in [0, 1)",
            });
        }
        // At least f32's smallest normal number: below it, eps is 0 (or a subnormal) in an
        // `f32` network, and a constant feature divides 0 by 0.
        if !(eps >= f64::from(f32::MIN_POSITIVE) && eps.is_finite()) {
            return Err(Error::BadHyperparameter {
                name: "batch norm eps",
                value: eps,
                expected: "finite and at least 1.2e-38 (f32's smallest normal number)",
            });
        }
        Ok(BatchNorm { momentum, eps })
    }

    /// What `network!` builds after checking both values at compile time.
    #[doc(hidden)]
    pub const fn checked(momentum: f64, eps: f64) -> Self {
        BatchNorm { momentum, eps }
    }

    /// The momentum of the running statistics.
    ///
    /// ```
    /// assert_eq!(constnet::layers::BatchNorm::new(0.99, 1e-5)?.momentum(), 0.99);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// The value added to the variance before its square root.
    ///
    /// ```
    /// assert_eq!(constnet::layers::BatchNorm::new(0.9, 1e-3)?.eps(), 1e-3);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn eps(&self) -> f64 {
        self.eps
    }
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm::checked(Self::DEFAULT_MOMENTUM, Self::DEFAULT_EPS)
    }
}

/// What a [`BatchNorm`] layer's training forward keeps for backward.
///
/// [`Layer::new_cache`] makes one; the training forward fills it with the batch's
/// normalized inputs and statistics, and backward reads them.
///
/// ```
/// use constnet::{Batch, Layer, layers::{BatchNorm, BatchNormCache}};
/// let bn = BatchNorm::default();
/// let mut cache: BatchNormCache<f64> = Layer::<f64, 1, 1>::new_cache(&bn, 2);
/// // gamma 1, beta 0; running mean 0, variance 1, no training batch counted yet
/// let (p, mut state) = ([1.0, 0.0], [0.0, 1.0, 0.0]);
/// let x = Batch::<f64, 1>::from_column_slice(&[1.0, 3.0]); // batch mean 2, variance 1
/// let mut y = Batch::<f64, 1>::zeros(2);
/// bn.forward_train(&p, &mut state, x.columns(0, 2), y.columns_mut(0, 2), &mut cache);
/// assert!((y[0] + 1.0).abs() < 1e-5 && (y[1] - 1.0).abs() < 1e-5); // x_hat = -1, 1
/// assert!((state[0] - 0.2).abs() < 1e-12); // 0.9 * 0 + 0.1 * 2
/// assert_eq!(state[2], 1.0); // one training batch
/// let (dy, mut dp) = (Batch::<f64, 1>::from_column_slice(&[1.0, 0.0]), [0.0; 2]);
/// bn.backward(&p, x.columns(0, 2), y.columns(0, 2), &mut cache, dy.columns(0, 2), None, &mut dp);
/// assert!((dp[0] + 1.0).abs() < 1e-5 && dp[1] == 1.0); // dgamma = sum(dy x_hat), dbeta = sum(dy)
/// ```
#[derive(Debug, Clone)]
pub struct BatchNormCache<T> {
    /// The normalized input `x_hat`, column by column.
    x_hat: Vec<T>,
    /// `1 / sqrt(var + eps)` per feature.
    inv_std: Vec<T>,
    /// Per-feature scratch for the sums of a pass.
    sum: Vec<T>,
    sum_sq: Vec<T>,
}

impl<T: Float, const N: usize> Layer<T, N, N> for BatchNorm {
    const PARAMS: usize = 2 * N;
    const TENSORS: &'static [TensorSpec] = ScaleShift::<N>::TENSORS;
    const STATE: usize = 2 * N + 1;
    const STATE_TENSORS: &'static [TensorSpec] = &[
        TensorSpec {
            name: "running_mean",
            shape: &[N],
            offset: 0,
            storage: Storage::RowMajor,
            kind: TensorKind::State,
        },
        TensorSpec {
            name: "running_var",
            shape: &[N],
            offset: N,
            storage: Storage::RowMajor,
            kind: TensorKind::State,
        },
        TensorSpec {
            name: "num_batches_tracked",
            shape: &[],
            offset: 2 * N,
            storage: Storage::RowMajor,
            kind: TensorKind::Count,
        },
    ];
    type Cache = BatchNormCache<T>;

    fn kind(&self) -> &'static str {
        "BatchNorm"
    }

    fn init(&self, params: &mut [T], _rng: &mut dyn rand::RngCore) {
        ScaleShift::<N>::init(params);
    }

    fn init_state(&self, state: &mut [T]) {
        let (mean, rest) = state.split_at_mut(N);
        let (var, count) = rest.split_at_mut(N);
        mean.fill(T::ZERO);
        var.fill(T::ONE);
        count.fill(T::ZERO);
    }

    fn new_cache(&self, max_batch: usize) -> BatchNormCache<T> {
        BatchNormCache {
            x_hat: vec![T::ZERO; N * max_batch],
            inv_std: vec![T::ZERO; N],
            sum: vec![T::ZERO; N],
            sum_sq: vec![T::ZERO; N],
        }
    }

    #[inline]
    fn forward_one(&self, p: &[T], state: &[T], x: &SVector<T, N>) -> SVector<T, N> {
        let eps = T::of_f64(self.eps);
        SVector::from_fn(|j, _| {
            let inv_std = T::ONE / (state[N + j] + eps).sqrt();
            p[j] * (x[j] - state[j]) * inv_std + p[N + j]
        })
    }

    fn forward(&self, p: &[T], state: &[T], x: BatchView<'_, T, N>, mut y: BatchViewMut<'_, T, N>) {
        // y = scale * x + shift, with the running statistics folded into scale and shift.
        let eps = T::of_f64(self.eps);
        let (gamma, beta) = p.split_at(N);
        let (mean, var) = state.split_at(N);
        let scale: SVector<T, N> = SVector::from_fn(|j, _| gamma[j] / (var[j] + eps).sqrt());
        let shift: SVector<T, N> = SVector::from_fn(|j, _| beta[j] - mean[j] * scale[j]);
        for (xc, yc) in x
            .as_slice()
            .chunks_exact(N)
            .zip(y.as_mut_slice().chunks_exact_mut(N))
        {
            for j in 0..N {
                yc[j] = scale[j] * xc[j] + shift[j];
            }
        }
    }

    fn forward_train(
        &self,
        p: &[T],
        state: &mut [T],
        x: BatchView<'_, T, N>,
        mut y: BatchViewMut<'_, T, N>,
        cache: &mut BatchNormCache<T>,
    ) {
        let batch = x.ncols();
        let inv_batch = T::ONE / T::of_f64(batch as f64);
        let eps = T::of_f64(self.eps);
        let columns = || x.as_slice().chunks_exact(N);
        // The mean, then the variance around it (two passes: no cancellation).
        let mean = &mut cache.sum;
        mean.fill(T::ZERO);
        for xc in columns() {
            for (m, &v) in mean.iter_mut().zip(xc) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m *= inv_batch);
        let var = &mut cache.sum_sq;
        var.fill(T::ZERO);
        for xc in columns() {
            for ((s, &v), &m) in var.iter_mut().zip(xc).zip(mean.iter()) {
                *s += (v - m) * (v - m);
            }
        }
        var.iter_mut().for_each(|s| *s *= inv_batch);
        for (inv, &v) in cache.inv_std.iter_mut().zip(var.iter()) {
            *inv = T::ONE / (v + eps).sqrt();
        }
        // x_hat and y.
        let (gamma, beta) = p.split_at(N);
        let x_hat = &mut cache.x_hat[..N * batch];
        let outputs = x_hat
            .chunks_exact_mut(N)
            .zip(y.as_mut_slice().chunks_exact_mut(N));
        for (xc, (hc, yc)) in columns().zip(outputs) {
            for j in 0..N {
                hc[j] = (xc[j] - mean[j]) * cache.inv_std[j];
                yc[j] = gamma[j] * hc[j] + beta[j];
            }
        }
        // The running statistics.
        let momentum = T::of_f64(self.momentum);
        let rest = T::ONE - momentum;
        let (running_mean, rest_of_state) = state.split_at_mut(N);
        let (running_var, count) = rest_of_state.split_at_mut(N);
        for j in 0..N {
            running_mean[j] = momentum * running_mean[j] + rest * mean[j];
            running_var[j] = momentum * running_var[j] + rest * var[j];
        }
        // PyTorch's `num_batches_tracked`: one more training batch.
        count[0] += T::ONE;
    }

    fn backward(
        &self,
        p: &[T],
        _x: BatchView<'_, T, N>,
        _y: BatchView<'_, T, N>,
        cache: &mut BatchNormCache<T>,
        dy: BatchView<'_, T, N>,
        dx: Option<BatchViewMut<'_, T, N>>,
        dp: &mut [T],
    ) {
        let batch = dy.ncols();
        let x_hat = &cache.x_hat[..N * batch];
        let columns = || dy.as_slice().chunks_exact(N).zip(x_hat.chunks_exact(N));
        // sum(dy) and sum(dy * x_hat), which are dbeta and dgamma.
        let (sum_dy, sum_dy_x_hat) = (&mut cache.sum, &mut cache.sum_sq);
        sum_dy.fill(T::ZERO);
        sum_dy_x_hat.fill(T::ZERO);
        for (dc, hc) in columns() {
            for j in 0..N {
                sum_dy[j] += dc[j];
                sum_dy_x_hat[j] += dc[j] * hc[j];
            }
        }
        let (dgamma, dbeta) = dp.split_at_mut(N);
        for j in 0..N {
            dgamma[j] += sum_dy_x_hat[j];
            dbeta[j] += sum_dy[j];
        }
        // dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
        if let Some(mut dx) = dx {
            let inv_batch = T::ONE / T::of_f64(batch as f64);
            let gamma = &p[..N];
            let factor: SVector<T, N> = SVector::from_fn(|j, _| gamma[j] * cache.inv_std[j]);
            let mean_dy: SVector<T, N> = SVector::from_fn(|j, _| sum_dy[j] * inv_batch);
            let mean_dy_x_hat: SVector<T, N> = SVector::from_fn(|j, _| sum_dy_x_hat[j] * inv_batch);
            let outputs = dx.as_mut_slice().chunks_exact_mut(N);
            for ((dc, hc), gc) in columns().zip(outputs) {
                for j in 0..N {
                    let centered = dc[j] - mean_dy[j] - hc[j] * mean_dy_x_hat[j];
                    gc[j] = factor[j] * centered;
                }
            }
        }
    }
}
