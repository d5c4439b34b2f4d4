//! A running average of the weights during training: an exponential moving average (EMA) of
//! the parameters after every step, which the notes suggest evaluating instead of the last
//! weights ("running averages of the parameters", section on model ensembles).
//!
//! After step `t` with parameters `w_t`: `avg = w_1` at the first step, then
//! `avg = decay * avg + (1 - decay) * w_t`, as PyTorch's `AveragedModel` with
//! `get_ema_multi_avg_fn(decay)` and TensorFlow's `ExponentialMovingAverage` (without its
//! warm-up) compute it.

use super::{Callback, Control};
use crate::error::Error;
use crate::network::AnyNetwork;
use crate::scalar::Float;

/// A training callback that keeps an exponential moving average of the network's parameters,
/// updated after every step in one pass over a second flat buffer (allocated at the first
/// step, never again), for evaluation and saving.
///
/// The averaged network ([`averaged`](Self::averaged)) has the average's parameters and the
/// trained network's state (batch norm's running statistics, which are not averaged: as
/// with PyTorch's `AveragedModel`, recompute them on training data if they matter).
///
/// ```
/// use constnet::prelude::*;
/// use constnet::train::{AverageWeights, Config, Progress, fit_with};
/// network! { struct Net { fc1: Dense<2, 32>, relu: Relu, fc2: Dense<32, 3> } }
/// let data = constnet::datasets::spiral::<f32>(100, 3, 0);
/// let mut net = Net::new(0);
/// let mut adam = AdamConfig::new(1e-2).build()?;
/// let mut average = AverageWeights::new(0.99)?;
/// let config = Config { progress: Progress::Silent, ..Config::new(30, 30) };
/// fit_with(&mut net, &mut adam, &SoftmaxCrossEntropy, &data, None, &config, &mut [&mut average])?;
/// assert_eq!(average.updates(), 30 * 10); // one per step
/// let smoothed = average.averaged(&net)?;
/// assert_ne!(smoothed.params(), net.params());
/// assert!(smoothed.accuracy(&data.inputs, &data.labels)? > 0.5);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AverageWeights<T> {
    decay: f64,
    average: Vec<T>,
    updates: u64,
}

impl<T: Float> AverageWeights<T> {
    /// The decay most runs use: the average reaches back about 1,000 steps.
    pub const DEFAULT_DECAY: f64 = 0.999;

    /// An average with weight `decay` on the past, in `(0, 1)` and below 1 in `T` (in `f32`,
    /// 0.99999999 is 1 and would never move); anything else is an
    /// [`Error::BadHyperparameter`].
    ///
    /// ```
    /// use constnet::train::AverageWeights;
    /// assert!(AverageWeights::<f32>::new(0.999).is_ok());
    /// for bad in [0.0, 1.0, -0.5, f64::NAN, 0.999_999_999] {
    ///     assert!(AverageWeights::<f32>::new(bad).is_err(), "{bad}");
    /// }
    /// assert!(AverageWeights::<f64>::new(0.999_999_999).is_ok());
    /// ```
    pub fn new(decay: f64) -> Result<Self, Error> {
        if !(decay > 0.0 && T::of_f64(decay) < T::ONE) {
            return Err(Error::BadHyperparameter {
                name: "weight average decay",
                value: decay,
                expected: "in (0, 1), and below 1 in the network's scalar type",
            });
        }
        Ok(AverageWeights {
            decay,
            average: Vec::new(),
            updates: 0,
        })
    }

    /// The weight on the past.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// How many parameter vectors have been averaged in.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The averaged parameters, in the network's buffer order; empty before the first update.
    pub fn params(&self) -> &[T] {
        &self.average
    }

    /// Averages in `params` (the first call copies them). The training callback calls this
    /// after every step; call it yourself in a loop of your own.
    ///
    /// ```
    /// use constnet::train::AverageWeights;
    /// let mut average = AverageWeights::<f64>::new(0.5)?;
    /// average.update(&[4.0, 0.0])?;
    /// average.update(&[0.0, 8.0])?;
    /// assert_eq!(average.params(), [2.0, 4.0]); // 0.5 * old + 0.5 * new
    /// assert!(average.update(&[1.0]).is_err()); // another length
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn update(&mut self, params: &[T]) -> Result<(), Error> {
        if self.updates == 0 {
            self.average.clear();
            self.average.extend_from_slice(params);
        } else {
            if params.len() != self.average.len() {
                return Err(Error::WrongLength {
                    what: "parameters to average".into(),
                    expected: self.average.len(),
                    got: params.len(),
                });
            }
            // avg += (1 - decay) * (w - avg): one fused pass the compiler vectorizes.
            let rate = T::ONE - T::of_f64(self.decay);
            for (a, &w) in self.average.iter_mut().zip(params) {
                *a += rate * (w - *a);
            }
        }
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    /// A copy of `net` with the averaged parameters, rounded to the network's scalar type
    /// where the average is kept in another (an `f64` average of an `f32` network). Before
    /// any update there is no average: an [`Error::NotApplicable`]; an average of another
    /// network's parameters (another count) is an [`Error::WrongLength`].
    ///
    /// ```
    /// use constnet::prelude::*;
    /// use constnet::train::AverageWeights;
    /// network! {
    ///     struct Net { fc: Dense<1, 1> }
    ///     struct Wide { fc: Dense<1, 2> }
    /// }
    /// let net = Net::<f32>::new(0);
    /// let mut average = AverageWeights::<f64>::new(0.5)?;
    /// assert!(average.averaged(&net).is_err()); // nothing averaged yet
    /// average.update(&[0.1, 0.2])?;
    /// average.update(&[0.3, 0.4])?;
    /// assert_eq!(average.averaged(&net)?.params(), [0.2f32, 0.3]);
    /// assert!(average.averaged(&Wide::<f32>::new(0)).is_err()); // 4 parameters, not 2
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn averaged<N, U>(&self, net: &N) -> Result<N, Error>
    where
        N: AnyNetwork<U> + Clone,
        U: Float,
    {
        if self.updates == 0 {
            return Err(Error::NotApplicable {
                what: "an average of weights before the first training step".into(),
            });
        }
        if self.average.len() != net.flat_params().len() {
            return Err(Error::WrongLength {
                what: "averaged parameters".into(),
                expected: net.flat_params().len(),
                got: self.average.len(),
            });
        }
        let mut averaged = net.clone();
        for (to, &from) in averaged.flat_params_mut().iter_mut().zip(&self.average) {
            *to = U::of_f64(from.as_f64());
        }
        Ok(averaged)
    }

    /// Continues from a saved average (see `Checkpoint::with_average`): `params` after
    /// `updates` updates.
    ///
    /// ```
    /// use constnet::train::AverageWeights;
    /// let mut average = AverageWeights::<f32>::new(0.9)?;
    /// average.resume(&[1.0, 2.0], 40)?;
    /// assert_eq!((average.params(), average.updates()), (&[1.0, 2.0][..], 40));
    /// assert!(average.resume(&[f32::NAN], 1).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn resume(&mut self, params: &[T], updates: u64) -> Result<(), Error> {
        if params.iter().any(|v| !v.is_finite()) || (updates == 0) != params.is_empty() {
            return Err(Error::BadState {
                name: "weight average".into(),
                problem: format!(
                    "{} values after {updates} updates: both or neither must be zero, and \
                     every value finite",
                    params.len()
                ),
            });
        }
        self.average.clear();
        self.average.extend_from_slice(params);
        self.updates = updates;
        Ok(())
    }
}

impl<T, N, O> Callback<N, O> for AverageWeights<T>
where
    T: Float,
    N: AnyNetwork<T>,
{
    fn after_step(&mut self, _step: u64, _loss: f64, net: &N) -> Result<Control, Error> {
        self.update(net.flat_params())?;
        Ok(Control::Continue)
    }
}
