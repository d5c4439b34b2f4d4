// Everything the DSL accepts, compiled under `deny(warnings)`: the expansion must not warn in
// a user's crate.
#![deny(warnings, missing_docs, unused_qualifications, rust_2018_idioms)]
// It is also an example of the ui-tests crate, so the workspace's clippy run holds the
// expansion to these groups too (a custom layer's calls carry the user's spans).
#![warn(clippy::pedantic, clippy::nursery)]
// The expansion (the per-CPU copies of the forward pass included) has no `unsafe` of its own.
#![forbid(unsafe_code)]
//! A crate using constnet.

use constnet::prelude::*;

/// A hidden width.
pub const HIDDEN: usize = 16;

/// The multiply gate of the course as a custom layer (an identity here: no parameters).
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<T: Float, const N: usize> Layer<T, N, N> for Identity {
    const PARAMS: usize = 0;
    const TENSORS: &'static [constnet::TensorSpec] = &[];
    type Cache = ();
    fn kind(&self) -> &'static str {
        "Identity"
    }
    fn new_cache(&self, _: usize) {}
    fn forward_one(&self, _: &[T], _: &[T], x: &Sample<T, N>) -> Sample<T, N> {
        *x
    }
    fn forward(&self, _: &[T], _: &[T], x: BatchView<'_, T, N>, mut y: BatchViewMut<'_, T, N>) {
        y.copy_from(&x);
    }
    fn backward(
        &self,
        _: &[T],
        _: BatchView<'_, T, N>,
        _: BatchView<'_, T, N>,
        &mut (): &mut (),
        dy: BatchView<'_, T, N>,
        dx: Option<BatchViewMut<'_, T, N>>,
        _: &mut [T],
    ) {
        if let Some(mut dx) = dx {
            dx.copy_from(&dy);
        }
    }
}

network! {
    /// Every layer kind and every way to write a width.
    pub struct Everything<const H: usize> {
        /// The input layer.
        #[init(he, bias = 0.01)]
        pub fc1: Dense<4, H>,
        a1: Relu,
        #[init(sparse(20))]
        fc2: Dense<H, HIDDEN>,
        a2: LeakyRelu,
        #[init(bias = -0.5)]
        fc3: Dense<HIDDEN, { 2 * 8 }>,
        a3: LeakyRelu(0.2),
        #[init(small_random,)]
        fc4: Dense<{ 2 * 8 }, 12>,
        a4: Sigmoid,
        #[init(calibrated, bias = 1)]
        fc5: Dense<12, 12usize>,
        a5: Tanh,
        #[init(sparse)]
        fc6: Dense<12, 10>,
        a6: Elu,
        #[init(sparse(10))]
        fc7: Dense<10, 10>,
        a7: Elu(0.5),
        id: Identity => 10,
        d1: Dropout,
        d2: Dropout(0.8),
        d3: Dropout(0.7, seed = 9),
        d4: Dropout(seed = 1,),
        bn1: BatchNorm,
        bn2: BatchNorm(momentum = 0.99),
        bn3: BatchNorm(eps = 1e-3, momentum = 0.5,),
        ln1: LayerNorm,
        ln2: LayerNorm(eps = 1e-6,),
        mx1: Maxout<10, H>,
        #[init(he, bias = 0.1)]
        mx2: Maxout<H, 6, 3>,
        mx3: Maxout<6, HIDDEN, { 1 + 1 }>,
        out: Dense<HIDDEN, 3>,
    }

    /// A second network in the same invocation.
    pub(crate) struct Small { fc: Dense<2, 1> }

    /// A network that starts with a width-keeping layer, its width written.
    struct Alone { ln: LayerNorm<4>, relu: Relu, drop: Dropout<4>(0.5, seed = 2) }
}

fn main() {
    let net = Everything::<8>::new(0);
    let y = net.forward(&Sample::<f32, 4>::zeros());
    assert_eq!(y.len(), 3);
    let alone = Alone::<f64>::init(0);
    assert_eq!(alone.forward(&Sample::<f64, 4>::zeros()).len(), 4);
    let small = Small::<f64>::init(1);
    assert_eq!(small.params().len(), 3);
    assert_eq!(net.state().len(), 3 * (2 * 10 + 1));
    let _ = net.fc1;
}
