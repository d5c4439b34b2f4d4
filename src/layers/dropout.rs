//! Inverted dropout, with `p` the probability of keeping a unit (the CS231n convention).
//!
//! Training: `mask = (u < p) / p` with `u` uniform in `[0, 1)`, `y = x * mask`, so the
//! expected activation is unchanged and evaluation needs no rescaling. Evaluation (the
//! single-sample `forward` and the batched `forward_into`): the identity.
//! Backward: `dx = dy * mask`.

use crate::SeededRng;
use nalgebra::SVector;
use rand::{Rng, SeedableRng};

use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::layer::{Layer, TensorSpec};
use crate::scalar::Float;

/// Inverted dropout keeping each unit with probability `p` (default 0.5), of any width.
///
/// In `network!`, `drop: Dropout` keeps half the units and `drop: Dropout(0.8)` keeps 80%;
/// a literal outside `(0, 1]` is a compile error. Masks come from a generator seeded per
/// layer (from its name in `network!`), stored in the training tape: a run is reproducible,
/// and [`Tape::freeze_masks`](crate::Tape::freeze_masks) holds a mask fixed for a gradient
/// check.
///
/// ```
/// use constnet::{Layer, layers::Dropout};
/// use nalgebra::SVector;
/// let drop = Dropout::new(0.8)?;
/// // Evaluation is the identity.
/// let x = SVector::<f32, 3>::from([1.0, 2.0, 3.0]);
/// assert_eq!(drop.forward_one(&[], &[], &x), x);
/// assert!(Dropout::new(0.0).is_err() && Dropout::new(1.5).is_err());
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f64,
    seed: u64,
}

impl Dropout {
    /// Dropout keeping each unit with probability `p`, which must be in `(0, 1]`; masks
    /// seeded with 0 (see [`with_seed`](Self::with_seed)).
    ///
    /// ```
    /// use constnet::{Error, layers::Dropout};
    /// let drop = Dropout::new(1.0)?; // keeps every unit
    /// assert_eq!((drop.p(), drop.seed()), (1.0, 0));
    /// assert!(matches!(Dropout::new(0.0), Err(Error::BadHyperparameter { .. })));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(p: f64) -> Result<Self, Error> {
        if p > 0.0 && p <= 1.0 {
            Ok(Dropout { p, seed: 0 })
        } else {
            Err(Error::BadHyperparameter {
                name: "dropout keep probability p",
                value: p,
                expected: "in (0, 1]",
            })
        }
    }

    /// The same layer drawing its masks from another seed.
    ///
    /// ```
    /// let d = constnet::layers::Dropout::new(0.5)?.with_seed(7);
    /// assert_eq!(d.seed(), 7);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn with_seed(self, seed: u64) -> Self {
        Dropout { seed, ..self }
    }

    /// What `network!` builds after checking `p` at compile time.
    #[doc(hidden)]
    pub const fn checked(p: f64, seed: u64) -> Self {
        Dropout { p, seed }
    }

    /// The probability of keeping a unit.
    ///
    /// ```
    /// use constnet::layers::Dropout;
    /// assert_eq!(Dropout::default().p(), 0.5);
    /// assert_eq!(Dropout::new(0.8)?.p(), 0.8);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The seed of the mask generator.
    ///
    /// ```
    /// use constnet::layers::Dropout;
    /// assert_eq!(Dropout::new(0.8)?.seed(), 0);
    /// assert_eq!(Dropout::new(0.8)?.with_seed(3).seed(), 3);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl Default for Dropout {
    fn default() -> Self {
        Dropout { p: 0.5, seed: 0 }
    }
}

/// The training state of a [`Dropout`] layer: its last mask and its generator.
///
/// [`Layer::new_cache`] makes one; the training forward draws a mask into it, and backward
/// multiplies the upstream gradient by that same mask.
///
/// ```
/// use constnet::{Batch, Layer, layers::{Dropout, DropoutCache}};
/// let drop = Dropout::new(0.5)?;
/// let mut cache: DropoutCache<f64> = Layer::<f64, 4, 4>::new_cache(&drop, 2);
/// let ones = Batch::<f64, 4>::from_element(2, 1.0);
/// let (mut y, mut dx) = (Batch::<f64, 4>::zeros(2), Batch::<f64, 4>::zeros(2));
/// drop.forward_train(&[], &mut [], ones.columns(0, 2), y.columns_mut(0, 2), &mut cache);
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0)); // kept units are scaled by 1 / p
/// drop.backward(&[], ones.columns(0, 2), y.columns(0, 2), &mut cache,
///     ones.columns(0, 2), Some(dx.columns_mut(0, 2)), &mut []);
/// assert_eq!(dx, y); // the gradient goes through the same mask
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DropoutCache<T> {
    /// `(u < p) / p` per element of the last training batch, column by column.
    mask: Vec<T>,
    rng: SeededRng,
    /// The layer's seed, which [`Layer::reseed_masks`] starts the generator from.
    seed: u64,
    /// The keep probability, for [`Layer::set_mask`].
    p: f64,
    /// How many elements the last mask covers (the last training batch's, or a set mask's).
    len: usize,
    frozen: bool,
}

impl<T: Float, const N: usize> Layer<T, N, N> for Dropout {
    const PARAMS: usize = 0;
    const TENSORS: &'static [TensorSpec] = &[];
    type Cache = DropoutCache<T>;

    fn kind(&self) -> &'static str {
        "Dropout"
    }

    fn new_cache(&self, max_batch: usize) -> DropoutCache<T> {
        DropoutCache {
            mask: vec![T::ZERO; N * max_batch],
            rng: SeededRng::seed_from_u64(self.seed),
            seed: self.seed,
            p: self.p,
            len: 0,
            frozen: false,
        }
    }

    #[inline]
    fn forward_one(&self, _params: &[T], _state: &[T], x: &SVector<T, N>) -> SVector<T, N> {
        *x
    }

    fn forward(
        &self,
        _params: &[T],
        _state: &[T],
        x: BatchView<'_, T, N>,
        mut y: BatchViewMut<'_, T, N>,
    ) {
        y.copy_from(&x);
    }

    fn forward_train(
        &self,
        _params: &[T],
        _state: &mut [T],
        x: BatchView<'_, T, N>,
        mut y: BatchViewMut<'_, T, N>,
        cache: &mut DropoutCache<T>,
    ) {
        let mask = &mut cache.mask[..x.len()];
        if !cache.frozen {
            cache.len = x.len();
            let scale = T::of_f64(1.0 / self.p);
            for m in mask.iter_mut() {
                *m = if cache.rng.random::<f64>() < self.p {
                    scale
                } else {
                    T::ZERO
                };
            }
        }
        for ((out, &v), &m) in y.as_mut_slice().iter_mut().zip(x.as_slice()).zip(&*mask) {
            *out = v * m;
        }
    }

    fn backward(
        &self,
        _params: &[T],
        _x: BatchView<'_, T, N>,
        _y: BatchView<'_, T, N>,
        cache: &mut DropoutCache<T>,
        dy: BatchView<'_, T, N>,
        dx: Option<BatchViewMut<'_, T, N>>,
        _dparams: &mut [T],
    ) {
        if let Some(mut dx) = dx {
            let grads = dx.as_mut_slice().iter_mut().zip(dy.as_slice());
            for ((g, &d), &m) in grads.zip(&cache.mask) {
                *g = d * m;
            }
        }
    }

    fn freeze_masks(cache: &mut DropoutCache<T>, frozen: bool) {
        cache.frozen = frozen;
    }

    fn mask(cache: &DropoutCache<T>) -> Option<Vec<T>> {
        let kept = |&m: &T| if m == T::ZERO { T::ZERO } else { T::ONE };
        Some(cache.mask[..cache.len].iter().map(kept).collect())
    }

    fn set_mask(cache: &mut DropoutCache<T>, keep: &[T]) -> Result<(), Error> {
        if !keep.len().is_multiple_of(N) || keep.len() > cache.mask.len() || keep.is_empty() {
            return Err(Error::WrongLength {
                what: format!(
                    "a dropout mask ({N} values per sample, for at most {} samples)",
                    cache.mask.len() / N.max(1)
                ),
                expected: keep.len().next_multiple_of(N.max(1)).min(cache.mask.len()),
                got: keep.len(),
            });
        }
        if let Some(bad) = keep.iter().position(|&k| k != T::ZERO && k != T::ONE) {
            return Err(Error::NotApplicable {
                what: format!(
                    "a dropout mask whose element {bad} is {}: keep is 1, drop is 0",
                    keep[bad].as_f64()
                ),
            });
        }
        let scale = T::of_f64(1.0 / cache.p);
        for (m, &k) in cache.mask.iter_mut().zip(keep) {
            *m = k * scale;
        }
        cache.len = keep.len();
        cache.frozen = true;
        Ok(())
    }

    fn reseed_masks(cache: &mut DropoutCache<T>, stream: u64) {
        // Stream 0 is the seed itself; the others are spread by the golden ratio's odd
        // multiplier, and the generator's own seeding (splitmix64) mixes the rest.
        let seed = cache
            .seed
            .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        cache.rng = SeededRng::seed_from_u64(seed);
    }
}
