//! Layer normalization (Ba, Kiros and Hinton 2016), per sample over its features, as in
//! the course's assignment 2 and PyTorch's `nn.LayerNorm(N)`.
//!
//! For each sample (a column) `x` of `N` features:
//! `mu = mean(x)`, `var = mean((x - mu)^2)` (the biased variance, as PyTorch and the
//! assignment), `x_hat = (x - mu) / sqrt(var + eps)`, `y = gamma * x_hat + beta`. Training and
//! evaluation are the same: there are no running statistics.
//!
//! Backward, per sample, with `g = dy * gamma`:
//! `dbeta += dy`, `dgamma += dy * x_hat`,
//! `dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)`.

use nalgebra::SVector;

use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::layer::{Layer, ScaleShift, TensorSpec};
use crate::scalar::Float;

/// Layer normalization of any width, with a learnable scale `gamma` (`weight`, starting at
/// 1) and shift `beta` (`bias`, starting at 0), named as PyTorch's `nn.LayerNorm` names them.
///
/// In `network!`: `ln: LayerNorm`, or `ln: LayerNorm(eps = 1e-6)`.
///
/// ```
/// use constnet::{Layer, layers::LayerNorm};
/// use nalgebra::SVector;
/// let ln = LayerNorm::default();
/// let p = [1.0, 1.0, 0.0, 0.0]; // gamma 1, beta 0
/// let y = ln.forward_one(&p, &[], &SVector::<f64, 2>::from([1.0, 3.0]));
/// // mean 2, variance 1: x_hat = (-1, 1)
/// assert!((y[0] + 1.0).abs() < 1e-5 && (y[1] - 1.0).abs() < 1e-5);
/// assert!(LayerNorm::new(0.0).is_err());
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNorm {
    eps: f64,
}

impl LayerNorm {
    /// The default `eps` added to the variance, PyTorch's.
    ///
    /// ```
    /// use constnet::layers::LayerNorm;
    /// assert_eq!(LayerNorm::default().eps(), LayerNorm::DEFAULT_EPS);
    /// ```
    pub const DEFAULT_EPS: f64 = 1e-5;

    /// Layer norm with `eps` finite and at least `f32::MIN_POSITIVE` (so that it is not 0
    /// in an `f32` network).
    ///
    /// ```
    /// use constnet::layers::LayerNorm;
    /// assert_eq!(LayerNorm::new(1e-6)?.eps(), 1e-6);
    /// assert!(LayerNorm::new(f64::NAN).is_err() && LayerNorm::new(1e-50).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(eps: f64) -> Result<Self, Error> {
        if !(eps >= f64::from(f32::MIN_POSITIVE) && eps.is_finite()) {
            return Err(Error::BadHyperparameter {
                name: "layer norm eps",
                value: eps,
                expected: "finite and at least 1.2e-38 (f32's smallest normal number)",
            });
        }
        Ok(LayerNorm { eps })
    }

    /// What `network!` builds after checking `eps` at compile time.
    #[doc(hidden)]
    pub const fn checked(eps: f64) -> Self {
        LayerNorm { eps }
    }

    /// The `eps` added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// `x_hat` of one sample into `x_hat`, returning `1 / sqrt(var + eps)`.
    #[inline]
    fn normalize<T: Float>(&self, x: &[T], x_hat: &mut [T]) -> T {
        let n = T::of_f64(x.len() as f64);
        let mean = x.iter().fold(T::ZERO, |s, &v| s + v) / n;
        // The variance around the mean (two passes: no cancellation).
        let var = x.iter().fold(T::ZERO, |s, &v| s + (v - mean) * (v - mean)) / n;
        let inv_std = T::ONE / (var + T::of_f64(self.eps)).sqrt();
        for (h, &v) in x_hat.iter_mut().zip(x) {
            *h = (v - mean) * inv_std;
        }
        inv_std
    }
}

impl Default for LayerNorm {
    fn default() -> Self {
        LayerNorm {
            eps: Self::DEFAULT_EPS,
        }
    }
}

/// What a [`LayerNorm`] layer's training forward keeps for backward: each sample's
/// normalized features and inverse standard deviation.
#[derive(Debug, Clone)]
pub struct LayerNormCache<T> {
    x_hat: Vec<T>,
    inv_std: Vec<T>,
}

impl<T: Float, const N: usize> Layer<T, N, N> for LayerNorm {
    const PARAMS: usize = 2 * N;
    const TENSORS: &'static [TensorSpec] = ScaleShift::<N>::TENSORS;
    type Cache = LayerNormCache<T>;

    fn kind(&self) -> &'static str {
        "LayerNorm"
    }

    fn init(&self, params: &mut [T], _rng: &mut dyn rand::RngCore) {
        ScaleShift::<N>::init(params);
    }

    fn new_cache(&self, max_batch: usize) -> LayerNormCache<T> {
        LayerNormCache {
            x_hat: vec![T::ZERO; N * max_batch],
            inv_std: vec![T::ZERO; max_batch],
        }
    }

    #[inline]
    fn forward_one(&self, p: &[T], _state: &[T], x: &SVector<T, N>) -> SVector<T, N> {
        let mut y = SVector::<T, N>::zeros();
        self.normalize(x.as_slice(), y.as_mut_slice());
        for j in 0..N {
            y[j] = p[j] * y[j] + p[N + j];
        }
        y
    }

    fn forward(
        &self,
        p: &[T],
        _state: &[T],
        x: BatchView<'_, T, N>,
        mut y: BatchViewMut<'_, T, N>,
    ) {
        let (gamma, beta) = p.split_at(N);
        let columns = x.as_slice().chunks_exact(N);
        for (xc, yc) in columns.zip(y.as_mut_slice().chunks_exact_mut(N)) {
            self.normalize(xc, yc);
            for j in 0..N {
                yc[j] = gamma[j] * yc[j] + beta[j];
            }
        }
    }

    fn forward_train(
        &self,
        p: &[T],
        _state: &mut [T],
        x: BatchView<'_, T, N>,
        mut y: BatchViewMut<'_, T, N>,
        cache: &mut LayerNormCache<T>,
    ) {
        let (gamma, beta) = p.split_at(N);
        let batch = x.ncols();
        let x_hat = cache.x_hat[..N * batch].chunks_exact_mut(N);
        let samples = x
            .as_slice()
            .chunks_exact(N)
            .zip(y.as_mut_slice().chunks_exact_mut(N));
        for (((xc, yc), hc), inv) in samples.zip(x_hat).zip(&mut cache.inv_std) {
            *inv = self.normalize(xc, hc);
            for j in 0..N {
                yc[j] = gamma[j] * hc[j] + beta[j];
            }
        }
    }

    fn backward(
        &self,
        p: &[T],
        _x: BatchView<'_, T, N>,
        _y: BatchView<'_, T, N>,
        cache: &mut LayerNormCache<T>,
        dy: BatchView<'_, T, N>,
        dx: Option<BatchViewMut<'_, T, N>>,
        dp: &mut [T],
    ) {
        let batch = dy.ncols();
        let x_hat = &cache.x_hat[..N * batch];
        let samples = || dy.as_slice().chunks_exact(N).zip(x_hat.chunks_exact(N));
        let (dgamma, dbeta) = dp.split_at_mut(N);
        for (dc, hc) in samples() {
            for j in 0..N {
                dgamma[j] += dc[j] * hc[j];
                dbeta[j] += dc[j];
            }
        }
        let Some(mut dx) = dx else {
            return;
        };
        let gamma = &p[..N];
        let inv_n = T::ONE / T::of_f64(N as f64);
        let outputs = dx.as_mut_slice().chunks_exact_mut(N);
        for (((dc, hc), gc), &inv_std) in samples().zip(outputs).zip(&cache.inv_std) {
            let (mut mean_g, mut mean_g_x_hat) = (T::ZERO, T::ZERO);
            for j in 0..N {
                let g = dc[j] * gamma[j];
                mean_g += g;
                mean_g_x_hat += g * hc[j];
            }
            mean_g *= inv_n;
            mean_g_x_hat *= inv_n;
            for j in 0..N {
                let g = dc[j] * gamma[j];
                gc[j] = inv_std * (g - mean_g - hc[j] * mean_g_x_hat);
            }
        }
    }
}
