//! A custom layer for the tests that need one: `y = F x` forward and `dx = B dy` backward,
//! with `B != F` for a layer whose backward pass is wrong on purpose.

use constnet::prelude::*;

/// `y = F x`, `dx = B dy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scaled<const F: i8, const B: i8>;

impl<T: Float, const N: usize, const F: i8, const B: i8> Layer<T, N, N> for Scaled<F, B> {
    const PARAMS: usize = 0;
    const TENSORS: &'static [constnet::TensorSpec] = &[];
    type Cache = ();
    fn kind(&self) -> &'static str {
        "Scaled"
    }
    fn new_cache(&self, _: usize) {}
    fn forward_one(&self, _: &[T], _: &[T], x: &Sample<T, N>) -> Sample<T, N> {
        x * T::of_f64(f64::from(F))
    }
    fn forward(&self, _: &[T], _: &[T], x: BatchView<'_, T, N>, mut y: BatchViewMut<'_, T, N>) {
        y.copy_from(&(x * T::of_f64(f64::from(F))));
    }
    fn backward(
        &self,
        _: &[T],
        _: BatchView<'_, T, N>,
        _: BatchView<'_, T, N>,
        _: &mut (),
        dy: BatchView<'_, T, N>,
        dx: Option<BatchViewMut<'_, T, N>>,
        _: &mut [T],
    ) {
        if let Some(mut dx) = dx {
            dx.copy_from(&(dy * T::of_f64(f64::from(B))));
        }
    }
}
