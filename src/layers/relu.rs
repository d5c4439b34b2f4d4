//! ReLU: `f(x) = max(0, x)`, `f'(x) = 1 if x > 0 else 0` (a max gate: kinked at 0).

use super::activation::{Activation, activation_layer};
use crate::scalar::Float;

/// Rectified linear unit, `max(0, x)`, of any width.
///
/// ```
/// use constnet::{Layer, layers::Relu};
/// use nalgebra::SVector;
/// let y = Relu.forward_one(&[], &[], &SVector::<f32, 3>::from([-1.0, 0.0, 2.0]));
/// assert_eq!(y.as_slice(), &[0.0, 0.0, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relu;

impl<T: Float> Activation<T> for Relu {
    const KINKED: bool = true;
    #[inline(always)]
    fn value(&self, x: T) -> T {
        if x > T::ZERO { x } else { T::ZERO }
    }
    #[inline(always)]
    fn derivative(&self, x: T, _y: T) -> T {
        if x > T::ZERO { T::ONE } else { T::ZERO }
    }
}

activation_layer!(Relu, "Relu");

/// Where a fused `Dense` + [`Relu`] fired, one bit per element of its output: what the
/// ReLU's backward needs, in 1/32 of the bytes of the output itself (the spiral net's 100 x
/// 300 hidden layer: 4.2 KB instead of 120 KB, which the gated product of backward would
/// otherwise read back from L2). The `network!` expansion keeps one per fused ReLU on the
/// tape; [`Dense::forward_relu`](super::Dense::forward_relu) writes it where its product's
/// kernel can (AVX-512, a shallow layer), and
/// [`Dense::backward_through_relu`](super::Dense::backward_through_relu) reads it where it
/// was written, and the ReLU's output otherwise.
///
/// ```
/// let mask = constnet::layers::ReluMask::new(100, 300);
/// assert_eq!(mask.batch(), None); // nothing written yet
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReluMask {
    /// Bit `i % 8` of byte `j * column_bytes + i / 8`: whether element `(i, j)` is positive.
    bits: Vec<u8>,
    column_bytes: usize,
    /// The batch size of the last forward that wrote the bits, if the last forward did.
    batch: Option<usize>,
}

impl ReluMask {
    /// Room for `width` units and up to `max_batch` samples: every column padded to a whole
    /// number of 16-bit words, one per vector of `f32` rows.
    ///
    /// ```
    /// use constnet::{Batch, layers::{Dense, ReluMask}};
    /// let mut mask = ReluMask::new(3, 4); // a 3-wide hidden layer, batches of up to 4
    /// assert_eq!(mask.batch(), None);
    /// let (p, x) = ([1.0f32; 3 * 2 + 3], Batch::<f32, 2>::from_element(4, 1.0));
    /// let mut h = Batch::<f32, 3>::zeros(4);
    /// Dense::<2, 3>::default().forward_relu(&p, x.columns(0, 4), h.columns_mut(0, 4), Some(&mut mask));
    /// assert_eq!(h, Batch::<f32, 3>::from_element(4, 3.0)); // max(0, W x + b), as without a mask
    /// if let Some(batch) = mask.batch() {
    ///     assert_eq!(batch, 4); // bits written for this batch
    /// }
    /// ```
    pub fn new(width: usize, max_batch: usize) -> Self {
        let column_bytes = width.div_ceil(16) * 2;
        ReluMask {
            bits: vec![0; column_bytes * max_batch],
            column_bytes,
            batch: None,
        }
    }

    /// The batch size whose bits the last forward pass wrote, or `None` if it wrote none (the
    /// backward then gates by the ReLU's output instead).
    ///
    /// Whether bits are written depends on the layer's shape and the CPU (AVX-512), so a
    /// forward pass leaves either its own batch size here or `None`, never an older one:
    ///
    /// ```
    /// use constnet::{Batch, layers::{Dense, ReluMask}};
    /// let mut mask = ReluMask::new(2, 8);
    /// let p = [1.0f32, -1.0, -1.0, 1.0, 0.0, 0.0];
    /// let x = Batch::<f32, 2>::from_element(5, 1.0);
    /// let mut h = Batch::<f32, 2>::zeros(5);
    /// Dense::<2, 2>::default().forward_relu(&p, x.columns(0, 5), h.columns_mut(0, 5), Some(&mut mask));
    /// assert!(matches!(mask.batch(), None | Some(5)));
    /// ```
    pub fn batch(&self) -> Option<usize> {
        self.batch
    }

    /// Bytes per column.
    pub(crate) fn column_bytes(&self) -> usize {
        self.column_bytes
    }

    pub(crate) fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// The bits, to be written by a forward pass, which then records whether it did with
    /// [`set_batch`](Self::set_batch).
    pub(crate) fn bits_mut(&mut self) -> &mut [u8] {
        &mut self.bits
    }

    pub(crate) fn set_batch(&mut self, batch: Option<usize>) {
        self.batch = batch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_passes_positive_inputs_and_blocks_the_rest() {
        let f = |x: f64| Activation::<f64>::value(&Relu, x);
        assert_eq!([f(-2.0), f(0.0), f(3.5)], [0.0, 0.0, 3.5]);
        let d = |x: f64| Activation::<f64>::derivative(&Relu, x, f(x));
        assert_eq!([d(-2.0), d(0.0), d(3.5)], [0.0, 0.0, 1.0]);
    }
}
