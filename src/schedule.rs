//! Learning-rate schedules from the CS231n notes, for any update rule.

use crate::error::Error;
use crate::optim::{Optimizer, positive};
use crate::scalar::Float;

/// How the learning rate decays with `t`, which counts epochs or steps as the caller
/// chooses (call [`Schedule::apply`] once per epoch, or once per step).
///
/// ```
/// use constnet::{Decay, Schedule};
/// let halving = Schedule::new(0.1, Decay::Step { every: 10, factor: 0.5 })?;
/// assert_eq!((halving.lr(9), halving.lr(10), halving.lr(20)), (0.1, 0.05, 0.025));
/// let exponential = Schedule::new(2.0, Decay::Exponential { k: 0.1 })?;
/// assert!((exponential.lr(10) - 2.0 / std::f64::consts::E).abs() < 1e-12);
/// let inverse = Schedule::new(2.0, Decay::InverseTime { k: 0.5 })?;
/// assert_eq!(inverse.lr(6), 0.5); // 2 / (1 + 0.5 * 6)
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decay {
    /// `lr0`, always.
    Constant,
    /// Step decay: `lr0 * factor^floor(t / every)` (halving every 10 epochs: `every` 10,
    /// `factor` 0.5).
    Step {
        /// Periods between two reductions, at least 1.
        every: u64,
        /// Multiplier at each reduction, in `(0, 1]`.
        factor: f64,
    },
    /// Exponential decay: `lr0 * e^(-k t)`.
    Exponential {
        /// Decay rate, non-negative.
        k: f64,
    },
    /// 1/t decay: `lr0 / (1 + k t)`.
    InverseTime {
        /// Decay rate, non-negative.
        k: f64,
    },
}

/// A learning-rate schedule: an initial rate and its [`Decay`], validated when built.
///
/// ```
/// use constnet::prelude::*;
/// let schedule = Schedule::step(0.1, 10, 0.5)?; // halve every 10 epochs
/// let mut sgd = Sgd::new(0.1)?;
/// for epoch in 0..25 {
///     schedule.apply::<f32, _>(&mut sgd, epoch)?;
///     // ... one epoch of training ...
/// }
/// assert_eq!(Optimizer::<f32>::learning_rate(&sgd), 0.025);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    lr0: f64,
    decay: Decay,
}

impl Schedule {
    /// `lr0` with `decay`, both checked: `lr0` positive and finite, `every >= 1`, `factor`
    /// in `(0, 1]`, `k` non-negative and finite.
    ///
    /// ```
    /// use constnet::{Decay, Schedule};
    /// assert!(Schedule::new(0.1, Decay::Step { every: 0, factor: 0.5 }).is_err());
    /// assert!(Schedule::new(0.1, Decay::Exponential { k: -1.0 }).is_err());
    /// ```
    pub fn new(lr0: f64, decay: Decay) -> Result<Self, Error> {
        positive("initial learning rate", lr0)?;
        let bad = |name, value, expected| {
            Err(Error::BadHyperparameter {
                name,
                value,
                expected,
            })
        };
        match decay {
            Decay::Constant => {}
            Decay::Step { every: 0, .. } => return bad("step decay period", 0.0, "at least 1"),
            Decay::Step { factor, .. } if !(factor > 0.0 && factor <= 1.0) => {
                return bad("step decay factor", factor, "in (0, 1]");
            }
            Decay::Step { .. } => {}
            Decay::Exponential { k } | Decay::InverseTime { k } => {
                if !(k.is_finite() && k >= 0.0) {
                    return bad("decay rate k", k, "a non-negative, finite number");
                }
            }
        }
        Ok(Schedule { lr0, decay })
    }

    /// A constant rate.
    ///
    /// ```
    /// use constnet::Schedule;
    /// let constant = Schedule::constant(0.3)?;
    /// assert_eq!((constant.lr(0), constant.lr(1_000_000)), (0.3, 0.3));
    /// assert!(Schedule::constant(0.0).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn constant(lr0: f64) -> Result<Self, Error> {
        Schedule::new(lr0, Decay::Constant)
    }

    /// Step decay: multiply by `factor` every `every` periods.
    ///
    /// ```
    /// use constnet::Schedule;
    /// let step = Schedule::step(0.1, 3, 0.5)?;
    /// let rates: Vec<f64> = (0..7).map(|t| step.lr(t)).collect();
    /// assert_eq!(rates, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
    /// assert!(Schedule::step(0.1, 3, 1.5).is_err()); // a factor above 1 would grow the rate
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn step(lr0: f64, every: u64, factor: f64) -> Result<Self, Error> {
        Schedule::new(lr0, Decay::Step { every, factor })
    }

    /// Exponential decay `lr0 * e^(-k t)`.
    ///
    /// ```
    /// use constnet::Schedule;
    /// let exponential = Schedule::exponential(0.1, 0.2)?;
    /// assert!((exponential.lr(5) - 0.1 * (-1.0f64).exp()).abs() < 1e-15);
    /// assert_eq!(Schedule::exponential(0.1, 0.0)?.lr(100), 0.1); // k = 0: constant
    /// assert!(Schedule::exponential(0.1, f64::INFINITY).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn exponential(lr0: f64, k: f64) -> Result<Self, Error> {
        Schedule::new(lr0, Decay::Exponential { k })
    }

    /// 1/t decay `lr0 / (1 + k t)`.
    ///
    /// ```
    /// use constnet::Schedule;
    /// let inverse = Schedule::inverse_time(0.1, 0.25)?;
    /// assert_eq!(inverse.lr(0), 0.1);
    /// assert!((inverse.lr(4) - 0.05).abs() < 1e-15); // 0.1 / (1 + 0.25 * 4)
    /// assert!(Schedule::inverse_time(0.1, -0.25).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn inverse_time(lr0: f64, k: f64) -> Result<Self, Error> {
        Schedule::new(lr0, Decay::InverseTime { k })
    }

    /// The learning rate at period `t` (starting at 0, where it is `lr0`).
    ///
    /// ```
    /// let s = constnet::Schedule::inverse_time(1.0, 0.5)?;
    /// assert_eq!(s.lr(2), 0.5);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn lr(&self, t: u64) -> f64 {
        let t_f = t as f64;
        match self.decay {
            Decay::Constant => self.lr0,
            Decay::Step { every, factor } => {
                let drops = i32::try_from(t / every).unwrap_or(i32::MAX);
                self.lr0 * factor.powi(drops)
            }
            Decay::Exponential { k } => self.lr0 * (-k * t_f).exp(),
            Decay::InverseTime { k } => self.lr0 / (1.0 + k * t_f),
        }
    }

    /// Sets `optimizer`'s learning rate to [`lr(t)`](Self::lr) and returns it. An `Err` if
    /// the rate has decayed to zero (underflow after very many periods).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut adam = AdamConfig::new(0.1).build::<f64>()?;
    /// let lr = Schedule::inverse_time(0.1, 1.0)?.apply(&mut adam, 3)?; // 0.1 / (1 + 3)
    /// assert!((lr - 0.025).abs() < 1e-15);
    /// assert_eq!(adam.learning_rate(), lr);
    /// // e^(-10000) underflows to 0, which is not a learning rate.
    /// assert!(Schedule::exponential(0.1, 1.0)?.apply(&mut adam, 10_000).is_err());
    /// assert_eq!(adam.learning_rate(), lr);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply<T: Float, O: Optimizer<T>>(
        &self,
        optimizer: &mut O,
        t: u64,
    ) -> Result<f64, Error> {
        let lr = self.lr(t);
        optimizer.set_learning_rate(lr)?;
        Ok(lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decay_follows_its_formula() {
        let step = Schedule::step(0.1, 3, 0.5).unwrap();
        let rates: Vec<f64> = (0..7).map(|t| step.lr(t)).collect();
        assert_eq!(rates, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
        let exp = Schedule::exponential(0.1, 0.2).unwrap();
        assert!((exp.lr(5) - 0.1 * (-1.0f64).exp()).abs() < 1e-15);
        let inv = Schedule::inverse_time(0.1, 0.25).unwrap();
        assert!((inv.lr(4) - 0.05).abs() < 1e-15);
        assert_eq!(Schedule::constant(0.3).unwrap().lr(1000), 0.3);
    }

    #[test]
    fn out_of_range_hyperparameters_are_errors() {
        assert!(Schedule::constant(0.0).is_err());
        assert!(Schedule::step(0.1, 1, 0.0).is_err());
        assert!(Schedule::step(0.1, 1, 1.5).is_err());
        assert!(Schedule::inverse_time(0.1, f64::NAN).is_err());
    }
}
