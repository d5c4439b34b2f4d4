//! A custom layer's [`Layer`] items as values, which is how the code `network!` generates
//! calls a custom layer.
//!
//! Every generated body that called a custom layer through `Layer` had to prove that the
//! layer takes its widths, and rustc type-checks each body on its own: a layer at widths it
//! does not take was one error shown, but counted once per body ("due to 26 previous
//! errors"), and listed that many times by an editor that reads cargo's JSON. The expansion
//! instead proves it once, in one constant of type [`Custom`] (see [`Custom::OF`]), and every
//! body calls the layer through that constant's function pointers, which name no bound. The
//! constant is known at compile time, so the calls are direct calls after inlining.

use std::any::Any;

use nalgebra::SVector;
use rand::RngCore;

use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::layer::{Kinks, Layer, TensorSpec};
use crate::scalar::Float;

/// The boxed cache a custom layer keeps on the tape.
type Cache = Box<dyn Any>;

/// A custom layer `L` from `I` inputs to `O` outputs: its constants, and each of its methods
/// as a function pointer that takes the layer's cache boxed. Built by [`Custom::OF`] alone.
pub struct Custom<L, T: Float, const I: usize, const O: usize> {
    /// [`Layer::PARAMS`].
    pub params: usize,
    /// [`Layer::TENSORS`].
    pub tensors: &'static [TensorSpec],
    /// [`Layer::STATE`].
    pub state: usize,
    /// [`Layer::STATE_TENSORS`].
    pub state_tensors: &'static [TensorSpec],
    /// [`Layer::SGD_SCRATCH`].
    pub sgd_scratch: usize,
    /// [`Layer::kind`].
    pub kind: fn(&L) -> &'static str,
    /// [`Layer::init`].
    pub init: fn(&L, &mut [T], &mut dyn RngCore),
    /// [`Layer::init_state`].
    pub init_state: fn(&L, &mut [T]),
    /// [`Layer::new_cache`], boxed.
    pub new_cache: fn(&L, usize) -> Cache,
    /// [`Layer::forward_one`].
    pub forward_one: ForwardOne<L, T, I, O>,
    /// [`Layer::forward`].
    pub forward: Forward<L, T, I, O>,
    /// [`Layer::forward_train`].
    pub forward_train: ForwardTrain<L, T, I, O>,
    /// [`Layer::backward`].
    pub backward: Backward<L, T, I, O>,
    /// [`Layer::backward_overwrite`].
    pub backward_overwrite: Backward<L, T, I, O>,
    /// [`Layer::backward_sgd`].
    pub backward_sgd: BackwardSgd<L, T, I, O>,
    /// [`Layer::record_kinks`].
    pub record_kinks: fn(&L, &[T], BatchView<'_, T, I>, &mut Kinks),
    /// [`Layer::freeze_masks`].
    pub freeze_masks: fn(&mut Cache, bool),
    /// [`Layer::reseed_masks`].
    pub reseed_masks: fn(&mut Cache, u64),
    /// [`Layer::mask`].
    pub mask: fn(&dyn Any) -> Option<Vec<T>>,
    /// [`Layer::set_mask`].
    pub set_mask: fn(&mut Cache, &[T]) -> Result<(), Error>,
}

/// [`Layer::forward_one`]'s signature.
pub type ForwardOne<L, T, const I: usize, const O: usize> =
    fn(&L, &[T], &[T], &SVector<T, I>) -> SVector<T, O>;

/// [`Layer::forward`]'s signature.
pub type Forward<L, T, const I: usize, const O: usize> =
    fn(&L, &[T], &[T], BatchView<'_, T, I>, BatchViewMut<'_, T, O>);

/// [`Layer::forward_train`]'s signature, with the cache boxed.
pub type ForwardTrain<L, T, const I: usize, const O: usize> =
    fn(&L, &[T], &mut [T], BatchView<'_, T, I>, BatchViewMut<'_, T, O>, &mut Cache);

/// [`Layer::backward`]'s signature, with the cache boxed.
pub type Backward<L, T, const I: usize, const O: usize> = fn(
    &L,
    &[T],
    BatchView<'_, T, I>,
    BatchView<'_, T, O>,
    &mut Cache,
    BatchView<'_, T, O>,
    Option<BatchViewMut<'_, T, I>>,
    &mut [T],
);

/// [`Layer::backward_sgd`]'s signature, with the cache boxed.
pub type BackwardSgd<L, T, const I: usize, const O: usize> = fn(
    &L,
    &mut [T],
    BatchView<'_, T, I>,
    BatchView<'_, T, O>,
    &mut Cache,
    BatchView<'_, T, O>,
    Option<BatchViewMut<'_, T, I>>,
    T,
    T,
    &mut [T],
);

impl<L, T, const I: usize, const O: usize> Custom<L, T, I, O>
where
    L: Layer<T, I, O>,
    L::Cache: 'static,
    T: Float,
{
    /// The layer's items. The one place where the generated code names `L: Layer<T, I, O>`.
    ///
    /// ```
    /// use constnet::__private::Custom;
    /// use constnet::layers::Relu;
    /// use constnet::Layer;
    /// let relu = Custom::<Relu, f32, 3, 3>::OF;
    /// assert_eq!(relu.params, 0);
    /// assert_eq!((relu.kind)(&Relu), <Relu as Layer<f32, 3, 3>>::kind(&Relu));
    /// ```
    pub const OF: Self = Self {
        params: L::PARAMS,
        tensors: L::TENSORS,
        state: L::STATE,
        state_tensors: L::STATE_TENSORS,
        sgd_scratch: L::SGD_SCRATCH,
        kind: L::kind,
        init: L::init,
        init_state: L::init_state,
        new_cache: |layer, max_batch| Box::new(layer.new_cache(max_batch)),
        forward_one: L::forward_one,
        forward: L::forward,
        forward_train: |layer, params, state, x, y, cache| {
            layer.forward_train(params, state, x, y, downcast_mut::<L::Cache>(cache));
        },
        backward: |layer, params, x, y, cache, dy, dx, dparams| {
            layer.backward(
                params,
                x,
                y,
                downcast_mut::<L::Cache>(cache),
                dy,
                dx,
                dparams,
            );
        },
        backward_overwrite: |layer, params, x, y, cache, dy, dx, dparams| {
            let cache = downcast_mut::<L::Cache>(cache);
            layer.backward_overwrite(params, x, y, cache, dy, dx, dparams);
        },
        backward_sgd: |layer, params, x, y, cache, dy, dx, lr, decay, scratch| {
            let cache = downcast_mut::<L::Cache>(cache);
            layer.backward_sgd(params, x, y, cache, dy, dx, lr, decay, scratch);
        },
        record_kinks: L::record_kinks,
        freeze_masks: |cache, frozen| L::freeze_masks(downcast_mut::<L::Cache>(cache), frozen),
        reseed_masks: |cache, stream| L::reseed_masks(downcast_mut::<L::Cache>(cache), stream),
        mask: |cache| L::mask(downcast_ref::<L::Cache>(cache)),
        set_mask: |cache, keep| L::set_mask(downcast_mut::<L::Cache>(cache), keep),
    };
}

/// A custom layer's cache, from the box the tape keeps it in.
fn downcast_mut<C: 'static>(cache: &mut Cache) -> &mut C {
    match cache.downcast_mut() {
        Some(cache) => cache,
        None => unreachable!("the tape holds each layer's own cache"),
    }
}

/// A custom layer's cache, read (see [`downcast_mut`]).
fn downcast_ref<C: 'static>(cache: &dyn Any) -> &C {
    match cache.downcast_ref() {
        Some(cache) => cache,
        None => unreachable!("the tape holds each layer's own cache"),
    }
}
