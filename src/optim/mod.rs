//! Update rules over flat parameter and gradient buffers, as the CS231n notes write them.
//!
//! Every rule implements [`Optimizer`]: one streaming loop over `params` and `grads` (and its
//! own state buffers), with no knowledge of layers, no branch inside the loop and no
//! allocation after the first step (state buffers are sized on first use). Each rule is built
//! from a config whose defaults are the notes' published ones and which is validated when
//! built: a bad hyperparameter is an [`Error::BadHyperparameter`], never a silent NaN later.
//!
//! | rule | update |
//! |---|---|
//! | [`Sgd`] | `x -= lr * dx` |
//! | [`Momentum`] | `v = mu * v - lr * dx; x += v` |
//! | [`Nesterov`] | `v_prev = v; v = mu * v - lr * dx; x += -mu * v_prev + (1 + mu) * v` |
//! | [`Adagrad`] | `cache += dx^2; x -= lr * dx / (sqrt(cache) + eps)` |
//! | [`RmsProp`] | `cache = decay * cache + (1 - decay) * dx^2; x -= lr * dx / (sqrt(cache) + eps)` |
//! | [`Adam`] | `t += 1; m = b1 m + (1 - b1) dx; v = b2 v + (1 - b2) dx^2; x -= lr m_hat / (sqrt(v_hat) + eps)` |
//!
//! Beside them, the second-order methods for full-batch problems, [`Lbfgs`] and, for nets of
//! up to a few thousand parameters, [`Newton`]: each evaluates the loss and gradient several
//! times per step through a closure (as PyTorch's `LBFGS.step(closure)`), and so is not an
//! [`Optimizer`].
//!
//! The state (velocities, caches, moments, the step counter) is kept in plain buffers that
//! [`Optimizer::state`] lists by name and [`Optimizer::load_state`] restores, so a checkpoint
//! can save and resume it.

/// The accessors every rule shares: its `lr` and `steps` fields, and its state buffers
/// given as `"name" => field` pairs.
macro_rules! shared_accessors {
    ($($name:literal => $field:ident $(($sign:ident))?),*) => {
        fn learning_rate(&self) -> f64 {
            self.lr
        }

        fn set_learning_rate(&mut self, lr: f64) -> Result<(), Error> {
            self.lr = super::positive("learning rate", lr)?;
            Ok(())
        }

        fn steps(&self) -> u64 {
            self.steps
        }

        fn state(&self) -> Vec<(&'static str, &[T])> {
            vec![$(($name, &self.$field[..])),*]
        }

        fn load_state(&mut self, steps: u64, buffers: &[(&str, &[T])]) -> Result<(), Error> {
            super::restore::<T>(
                steps,
                &mut [$(super::Own {
                    name: $name,
                    buffer: &mut self.$field,
                    non_negative: shared_accessors!(@sign $($sign)?),
                }),*],
                buffers,
            )?;
            self.steps = steps;
            Ok(())
        }
    };
    (@sign non_negative) => {
        true
    };
    (@sign) => {
        false
    };
}

mod adagrad;
mod adam;
mod lbfgs;
mod line_search;
mod momentum;
mod nesterov;
mod newton;
mod rmsprop;
mod sgd;

/// A full-batch objective as the second-order methods call it: the loss at `x`, with its
/// gradient written into the second buffer.
pub(crate) type Objective<'a, T> = dyn FnMut(&[T], &mut [T]) -> Result<f64, Error> + 'a;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use lbfgs::{Lbfgs, LbfgsConfig, MinimizeReport, Stop};
pub use momentum::{Momentum, MomentumConfig};
pub use nesterov::{Nesterov, NesterovConfig};
pub use newton::{Newton, NewtonConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use sgd::Sgd;

use crate::error::Error;
use crate::scalar::Float;

/// An update rule: changes parameters from their gradients, one step at a time.
///
/// ```
/// use constnet::prelude::*;
/// fn train_step<O: Optimizer<f32>>(opt: &mut O, x: &mut [f32], dx: &[f32]) -> Result<(), Error> {
///     opt.step(x, dx)
/// }
/// let mut adam = AdamConfig::default().build::<f32>()?;
/// let mut x = [1.0f32, -1.0];
/// train_step(&mut adam, &mut x, &[0.5, -0.5])?;
/// // Adam's first step moves every parameter by about `lr` against its gradient's sign.
/// assert!((x[0] - (1.0 - 1e-3)).abs() < 1e-6 && (x[1] - (-1.0 + 1e-3)).abs() < 1e-6);
/// # Ok::<(), constnet::Error>(())
/// ```
pub trait Optimizer<T: Float> {
    /// One update of `params` from `grads`, which must have the same length (and, for a
    /// stateful rule, the same length as at the first step).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut opt = MomentumConfig::new(0.5).build::<f64>()?;
    /// let mut x = [1.0, 2.0];
    /// opt.step(&mut x, &[1.0, -2.0])?; // v = -0.5 * dx = [-0.5, 1.0]
    /// assert_eq!(x, [0.5, 3.0]);
    /// assert!(opt.step(&mut x, &[1.0]).is_err()); // lengths differ
    /// assert!(opt.step(&mut [0.0; 3], &[0.0; 3]).is_err()); // not the first step's length
    /// assert_eq!((x, opt.steps()), ([0.5, 3.0], 1)); // a refused step changes nothing
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error>;

    /// The current learning rate.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let adam = AdamConfig::new(0.01).build::<f32>()?;
    /// assert_eq!(adam.learning_rate(), 0.01);
    /// // `Sgd` is an optimizer for every scalar type, so name the one meant.
    /// assert_eq!(Optimizer::<f32>::learning_rate(&Sgd::new(0.5)?), 0.5);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (what a [`Schedule`](crate::Schedule) does); it must be
    /// positive and finite.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut opt = MomentumConfig::new(0.1).build::<f64>()?;
    /// opt.set_learning_rate(0.05)?;
    /// let mut x = [1.0];
    /// opt.step(&mut x, &[2.0])?; // v = -0.05 * 2
    /// assert!((x[0] - 0.9).abs() < 1e-12);
    /// assert!(opt.set_learning_rate(0.0).is_err());
    /// assert!(opt.set_learning_rate(f64::INFINITY).is_err());
    /// assert_eq!(opt.learning_rate(), 0.05); // the refused rates were not set
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn set_learning_rate(&mut self, lr: f64) -> Result<(), Error>;

    /// How many steps have been taken (Adam's `t`).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut adam = AdamConfig::default().build::<f32>()?;
    /// assert_eq!(adam.steps(), 0);
    /// let mut x = [0.0f32; 2];
    /// for _ in 0..3 {
    ///     adam.step(&mut x, &[1.0, -1.0])?;
    /// }
    /// assert_eq!(adam.steps(), 3);
    /// assert!(adam.step(&mut x, &[1.0]).is_err()); // a refused step is not counted
    /// assert_eq!(adam.steps(), 3);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn steps(&self) -> u64;

    /// The state buffers by name (`velocity`, `cache`, `m`, `v`), empty before the first
    /// step. The step counter is [`steps`](Self::steps).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut adam = AdamConfig::new(0.1).build::<f64>()?;
    /// let names: Vec<&str> = adam.state().iter().map(|&(name, _)| name).collect();
    /// assert_eq!(names, ["m", "v"]);
    /// assert!(adam.state().iter().all(|(_, buffer)| buffer.is_empty()));
    /// adam.step(&mut [1.0, 1.0], &[2.0, -4.0])?;
    /// let state = adam.state();
    /// let (m, v) = (state[0].1, state[1].1); // m = (1 - beta1) dx, v = (1 - beta2) dx^2
    /// assert!((m[0] - 0.2).abs() < 1e-12 && (m[1] + 0.4).abs() < 1e-12);
    /// assert!((v[0] - 0.004).abs() < 1e-12 && (v[1] - 0.016).abs() < 1e-12);
    /// assert!(Optimizer::<f32>::state(&Sgd::new(0.1)?).is_empty()); // SGD keeps none
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn state(&self) -> Vec<(&'static str, &[T])>;

    /// Restores the state: the buffers named as [`state`](Self::state) names them, and the
    /// step counter. A wrong name or length is an `Err`, and nothing is changed then.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut trained = MomentumConfig::new(0.1).build::<f64>()?;
    /// trained.step(&mut [1.0, 1.0], &[1.0, 2.0])?;
    /// let mut resumed = MomentumConfig::new(0.1).build::<f64>()?;
    /// resumed.load_state(trained.steps(), &trained.state())?;
    /// assert_eq!(resumed, trained);
    /// assert!(resumed.load_state(5, &[("cache", &[0.0, 0.0][..])]).is_err()); // unknown name
    /// assert!(resumed.load_state(5, &[("velocity", &[0.0][..])]).is_err()); // wrong length
    /// assert_eq!(resumed, trained);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn load_state(&mut self, steps: u64, buffers: &[(&str, &[T])]) -> Result<(), Error>;
}

/// `value`, if it is positive and finite.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, Error> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::BadHyperparameter {
            name,
            value,
            expected: "a positive, finite number",
        })
    }
}

/// `value`, if it is in `[0, 1)`.
pub(crate) fn fraction(name: &'static str, value: f64) -> Result<f64, Error> {
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::BadHyperparameter {
            name,
            value,
            expected: "in [0, 1)",
        })
    }
}

/// `value`, if it is in `(0, 1)`.
pub(crate) fn open_fraction(name: &'static str, value: f64) -> Result<f64, Error> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(Error::BadHyperparameter {
            name,
            value,
            expected: "in (0, 1)",
        })
    }
}

/// `x`, or zero when it is below the normal range (`|x| < T::MIN_POSITIVE`). Every rule
/// flushes the parameters and state it writes, as PyTorch's `set_flush_denormal(True)` does
/// for a whole process: with weight decay, the weights of dead units shrink geometrically
/// and would become subnormal, and then every product that reads them takes the CPU's slow
/// path (Adagrad on the spiral net left 82 subnormal weights and ran 10 times slower). The
/// change is below 1.2e-38 for `f32`, 2.3e-308 for `f64`.
#[inline(always)]
pub(crate) fn flush<T: Float>(x: T) -> T {
    if x.abs() < T::MIN_POSITIVE {
        T::ZERO
    } else {
        x
    }
}

/// A positive hyperparameter (a learning rate, an `eps`), validated in `f64` when the rule
/// was built, as the scalar type `T` the rule steps in: it must still be positive and
/// finite there (`eps = 1e-50` is 0 in `f32`, which made 0/0 on a zero gradient; a learning
/// rate of 1e300 is infinity).
pub(crate) fn in_scalar<T: Float>(name: &'static str, value: f64) -> Result<T, Error> {
    let converted = T::of_f64(value);
    if converted > T::ZERO && converted.is_finite() {
        Ok(converted)
    } else {
        Err(Error::BadHyperparameter {
            name,
            value,
            expected: "positive and finite in the scalar type the parameters are in",
        })
    }
}

/// `Ok` if the gradient buffer matches the parameters.
pub(crate) fn same_length<T>(params: &[T], grads: &[T]) -> Result<(), Error> {
    if params.len() == grads.len() {
        Ok(())
    } else {
        Err(Error::WrongLength {
            what: "gradient buffer".into(),
            expected: params.len(),
            got: grads.len(),
        })
    }
}

/// Sizes state buffers on the first step (zero-filled); afterwards `Err` if the parameter
/// count changed, since the state would belong to other parameters.
pub(crate) fn sized_state<T: Float>(buffers: &mut [&mut Vec<T>], len: usize) -> Result<(), Error> {
    for buffer in buffers {
        if buffer.is_empty() {
            buffer.resize(len, T::ZERO);
        } else if buffer.len() != len {
            return Err(Error::WrongLength {
                what: "parameter buffer (the optimizer's state was sized at its first step)".into(),
                expected: buffer.len(),
                got: len,
            });
        }
    }
    Ok(())
}

/// One of a rule's state buffers, for [`restore`].
pub(crate) struct Own<'a, T> {
    pub name: &'static str,
    pub buffer: &'a mut Vec<T>,
    /// Whether its values are sums of squares (Adam's `v`, Adagrad's and RMSprop's `cache`).
    pub non_negative: bool,
}

/// Restores a rule's step counter and named state buffers, from a file, so trusting nothing:
/// checks every name, that every buffer is there once the rule has stepped, that they share
/// one length (the rule's own, if it has stepped here), that every value is finite and
/// sums of squares are not negative, and that the counter can count another step; then
/// copies. On an error the rule is unchanged.
pub(crate) fn restore<T: Float>(
    steps: u64,
    own: &mut [Own<'_, T>],
    given: &[(&str, &[T])],
) -> Result<(), Error> {
    let known = || own.iter().map(|o| o.name).collect::<Vec<_>>().join(", ");
    let bad = |name: &str, what: String| Error::BadState {
        name: format!("optimizer state `{name}`"),
        problem: what,
    };
    if steps == u64::MAX {
        return Err(bad(
            "steps",
            "the step counter is at its largest value".into(),
        ));
    }
    let mut length = own.iter().map(|o| o.buffer.len()).find(|&l| l > 0);
    for (name, values) in given {
        let Some(target) = own.iter().find(|o| o.name == *name) else {
            return Err(Error::UnknownParameter {
                name: format!("optimizer state `{name}`"),
                known: known(),
            });
        };
        match length {
            Some(expected) if expected != values.len() => {
                return Err(Error::WrongLength {
                    what: format!("optimizer state `{name}`"),
                    expected,
                    got: values.len(),
                });
            }
            _ => length = Some(values.len()),
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(
                name,
                format!("element {at} is {}", values[at].as_f64()),
            ));
        }
        if target.non_negative
            && let Some(at) = values.iter().position(|v| *v < T::ZERO)
        {
            return Err(bad(
                name,
                format!(
                    "element {at} is {}, but it is a sum of squares",
                    values[at].as_f64()
                ),
            ));
        }
    }
    if steps > 0
        && let Some(missing) = own.iter().find(|o| given.iter().all(|(n, _)| *n != o.name))
    {
        return Err(bad(
            missing.name,
            format!("missing, though the rule has taken {steps} steps"),
        ));
    }
    for (name, values) in given {
        if let Some(target) = own.iter_mut().find(|o| o.name == *name) {
            target.buffer.clear();
            target.buffer.extend_from_slice(values);
        }
    }
    Ok(())
}

/// The copies of an update rule's `run(&mut self)` loop for the instruction-set tiers,
/// `run_avx2` and `run_avx512`, which [`run_mut`](crate::tiers::run_mut) picks from: each is
/// `run` inlined into a function compiled with that tier's instructions.
macro_rules! tier_copies {
    () => {
        #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
        fn run_avx2(&mut self) {
            self.run();
        }

        #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512vl"))]
        fn run_avx512(&mut self) {
            self.run();
        }
    };
}
pub(crate) use tier_copies;

/// One step of a rule with one state buffer (momentum's velocity, Adagrad's and RMSProp's
/// cache): `element(x, dx, state)` for every parameter, in a loop compiled once per
/// instruction-set tier ([`run_mut`](crate::tiers::run_mut)), as Adam's and SGD's are.
pub(crate) struct OneState<'a, T, F> {
    pub(crate) params: &'a mut [T],
    pub(crate) grads: &'a [T],
    pub(crate) state: &'a mut [T],
    pub(crate) element: F,
}

impl<T: Float, F: Fn(&mut T, T, &mut T)> OneState<'_, T, F> {
    #[inline(always)]
    fn run(&mut self) {
        for ((x, &dx), s) in self
            .params
            .iter_mut()
            .zip(self.grads)
            .zip(self.state.iter_mut())
        {
            (self.element)(x, dx, s);
        }
    }

    tier_copies!();

    /// Runs the step in the CPU's tier.
    pub(crate) fn step(mut self) {
        crate::tiers::run_mut(&mut self, Self::run, Self::run_avx2, Self::run_avx512);
    }
}
