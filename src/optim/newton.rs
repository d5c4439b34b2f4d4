//! Newton's method, `x <- x - t [H + mu I]^-1 grad f(x)`, for problems small enough to hold
//! their Hessian: the notes' second-order update, made safe for a non-convex loss by a shift
//! `mu` that makes the matrix positive definite (Nocedal and Wright, algorithm 3.3) and a
//! strong Wolfe line search for the step `t`.
//!
//! The Hessian comes from the analytic gradient by central differences, one parameter at a
//! time: column `j` is `(g(x + h e_j) - g(x - h e_j)) / 2h` with `h = eps^(1/3) max(1, |x_j|)`,
//! whose error is `O(h^2)` from the third derivative plus `O(eps / h)` from rounding: about
//! `1e-10` relative in `f64` (about `1e-4` in `f32`, so use an `f64` network). The matrix is
//! then symmetrized.

use nalgebra::{DMatrix, DVector};

use super::Objective;
use super::lbfgs::{MinimizeReport, Stop};
use super::line_search::{Wolfe, strong_wolfe};
use crate::error::Error;
use crate::scalar::Float;

/// The settings of [`Newton`].
///
/// ```
/// use constnet::optim::NewtonConfig;
/// let config = NewtonConfig::default();
/// assert_eq!(config.max_params, 4096);
/// assert!(NewtonConfig { max_iterations: 0, ..config }.build::<f64>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewtonConfig {
    /// The most parameters it takes: its Hessian is `n x n` `f64`s (4096 parameters: 128 MiB)
    /// and costs `2n` gradient evaluations and an `n^3 / 3` factorization per iteration.
    pub max_params: usize,
    /// Iterations per call of [`Newton::minimize`].
    pub max_iterations: usize,
    /// Stop when the largest gradient component is at most this.
    pub gradient_tolerance: f64,
    /// Stop when the loss changes by less than this in an iteration.
    pub change_tolerance: f64,
}

impl Default for NewtonConfig {
    fn default() -> Self {
        NewtonConfig {
            max_params: 4096,
            max_iterations: 50,
            gradient_tolerance: 1e-7,
            change_tolerance: 1e-12,
        }
    }
}

impl NewtonConfig {
    /// Checks the settings: at least one parameter and one iteration, tolerances at least 0.
    pub fn build<T: Float>(self) -> Result<Newton<T>, Error> {
        if self.max_params == 0 || self.max_iterations == 0 {
            return Err(Error::BadHyperparameter {
                name: "Newton budget",
                value: 0.0,
                expected: "at least 1 parameter and 1 iteration",
            });
        }
        for (name, value) in [
            ("Newton gradient tolerance", self.gradient_tolerance),
            ("Newton change tolerance", self.change_tolerance),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(Error::BadHyperparameter {
                    name,
                    value,
                    expected: "finite and at least 0",
                });
            }
        }
        Ok(Newton {
            config: self,
            hessian: DMatrix::zeros(0, 0),
            x0: Vec::new(),
            g0: Vec::new(),
            g: Vec::new(),
            probe: Vec::new(),
            d: Vec::new(),
        })
    }
}

/// Newton's method with a shifted Cholesky solve and a line search. Buffers are allocated
/// at the first call.
///
/// ```
/// use constnet::optim::NewtonConfig;
/// // f(x, y) = (x - 1)^2 + 10 (y + 2)^2: a quadratic, minimized in one step.
/// let mut newton = NewtonConfig::default().build::<f64>()?;
/// let mut x = [5.0, 5.0];
/// let report = newton.minimize(&mut x, |x, g| {
///     g[0] = 2.0 * (x[0] - 1.0);
///     g[1] = 20.0 * (x[1] + 2.0);
///     Ok((x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2))
/// })?;
/// assert_eq!(report.iterations, 1);
/// assert!((x[0] - 1.0).abs() < 1e-8 && (x[1] + 2.0).abs() < 1e-8);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Newton<T> {
    config: NewtonConfig,
    hessian: DMatrix<f64>,
    x0: Vec<T>,
    g0: Vec<T>,
    g: Vec<T>,
    probe: Vec<T>,
    d: Vec<T>,
}

fn max_abs<T: Float>(a: &[T]) -> f64 {
    a.iter().fold(0.0, |m: f64, v| m.max(v.as_f64().abs()))
}

impl<T: Float> Newton<T> {
    fn allocate(&mut self, n: usize) -> Result<(), Error> {
        if n > self.config.max_params {
            return Err(Error::NotApplicable {
                what: format!(
                    "Newton's method for {n} parameters: its Hessian would hold {} f64s \
                     ({:.1} GiB); it takes at most {} (NewtonConfig::max_params), and \
                     L-BFGS (optim::Lbfgs) needs no Hessian",
                    n * n,
                    (n * n * 8) as f64 / (1u64 << 30) as f64,
                    self.config.max_params
                ),
            });
        }
        if self.x0.len() != n {
            self.hessian = DMatrix::zeros(n, n);
            for buffer in [
                &mut self.x0,
                &mut self.g0,
                &mut self.g,
                &mut self.probe,
                &mut self.d,
            ] {
                *buffer = vec![T::ZERO; n];
            }
        }
        Ok(())
    }

    /// The Hessian of `objective` at `params` by central differences of its gradient,
    /// symmetrized, row-major `n x n`; `params` are left as they were.
    ///
    /// ```
    /// use constnet::optim::NewtonConfig;
    /// let mut newton = NewtonConfig::default().build::<f64>()?;
    /// // f = x^2 y: H = [[2y, 2x], [2x, 0]]
    /// let h = newton.hessian(&mut [3.0, 5.0], |x, g| {
    ///     g[0] = 2.0 * x[0] * x[1];
    ///     g[1] = x[0] * x[0];
    ///     Ok(x[0] * x[0] * x[1])
    /// })?;
    /// for (got, want) in h.iter().zip([10.0, 6.0, 6.0, 0.0]) {
    ///     assert!((got - want).abs() < 1e-8, "{h:?}");
    /// }
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn hessian<F>(&mut self, params: &mut [T], mut objective: F) -> Result<Vec<f64>, Error>
    where
        F: FnMut(&[T], &mut [T]) -> Result<f64, Error>,
    {
        self.allocate(params.len())?;
        self.x0.copy_from_slice(params);
        let result = self.fill_hessian(params, &mut objective);
        params.copy_from_slice(&self.x0);
        result?;
        Ok(self.hessian.transpose().as_slice().to_vec())
    }

    /// Fills `self.hessian` at `self.x0`, moving `params` about it.
    fn fill_hessian(
        &mut self,
        params: &mut [T],
        objective: &mut Objective<'_, T>,
    ) -> Result<(), Error> {
        let n = params.len();
        let cube_root_eps = T::EPSILON.as_f64().cbrt();
        for j in 0..n {
            let x = self.x0[j].as_f64();
            let h = cube_root_eps * x.abs().max(1.0);
            // The step as the scalar type represents it, so that the difference is exact.
            let (up, down) = (T::of_f64(x + h), T::of_f64(x - h));
            let width = up.as_f64() - down.as_f64();
            params[j] = up;
            objective(params, &mut self.probe)?;
            params[j] = down;
            objective(params, &mut self.g0)?;
            params[j] = self.x0[j];
            for i in 0..n {
                self.hessian[(i, j)] = (self.probe[i].as_f64() - self.g0[i].as_f64()) / width;
            }
        }
        if let Some(bad) = self.hessian.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteLoss {
                value: self.hessian.as_slice()[bad],
            });
        }
        let symmetric = (&self.hessian + self.hessian.transpose()) * 0.5;
        self.hessian.copy_from(&symmetric);
        Ok(())
    }

    /// Minimizes `objective` from `params` (which end at the lowest point reached), as
    /// [`Lbfgs::minimize`](super::Lbfgs::minimize) does: `objective(x, g)` returns the loss
    /// and writes the gradient; an error (or a non-finite loss) restores `params`. More than
    /// [`NewtonConfig::max_params`] parameters is an error.
    pub fn minimize<F>(
        &mut self,
        params: &mut [T],
        mut objective: F,
    ) -> Result<MinimizeReport, Error>
    where
        F: FnMut(&[T], &mut [T]) -> Result<f64, Error>,
    {
        let n = params.len();
        self.allocate(n)?;
        let start = params.to_vec();
        let mut report = MinimizeReport {
            iterations: 0,
            evaluations: 0,
            loss: f64::NAN,
            gradient_max: f64::NAN,
            stop: Stop::Iterations,
        };
        let result = self.iterate(params, &mut objective, &mut report);
        if let Err(e) = result {
            params.copy_from_slice(&start);
            return Err(e);
        }
        Ok(report)
    }

    fn iterate(
        &mut self,
        params: &mut [T],
        objective: &mut Objective<'_, T>,
        report: &mut MinimizeReport,
    ) -> Result<(), Error> {
        let n = params.len();
        let mut loss = objective(params, &mut self.g)?;
        report.evaluations += 1;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { value: loss });
        }
        loop {
            report.loss = loss;
            report.gradient_max = max_abs(&self.g);
            if report.gradient_max <= self.config.gradient_tolerance {
                report.stop = Stop::Gradient;
                return Ok(());
            }
            if report.iterations >= self.config.max_iterations {
                report.stop = Stop::Iterations;
                return Ok(());
            }
            self.x0.copy_from_slice(params);
            // (The differences use `probe` and `g0`; `g` stays the gradient at `x0`.)
            self.fill_hessian(params, objective)?;
            report.evaluations += 2 * n;
            self.solve();
            self.g0.copy_from_slice(&self.g);
            let slope: f64 = self
                .g
                .iter()
                .zip(&self.d)
                .map(|(g, d)| g.as_f64() * d.as_f64())
                .sum();
            let (x0, d, grad) = (&self.x0, &self.d, &mut self.g);
            let mut phi = |t: f64| {
                let t = T::of_f64(t);
                for ((x, &x0), &d) in params.iter_mut().zip(x0).zip(d) {
                    *x = x0 + t * d;
                }
                let value = objective(params, grad)?;
                let slope = grad
                    .iter()
                    .zip(d)
                    .map(|(g, d)| g.as_f64() * d.as_f64())
                    .sum();
                Ok((value, slope))
            };
            let found = strong_wolfe(Wolfe { c1: 1e-4, c2: 0.9 }, loss, slope, 1.0, 25, &mut phi)?;
            report.evaluations += found.evaluations;
            if found.t == 0.0 {
                params.copy_from_slice(&self.x0);
                self.g.copy_from_slice(&self.g0);
                report.stop = Stop::LineSearch;
                return Ok(());
            }
            report.iterations += 1;
            let change = (loss - found.value).abs();
            loss = found.value;
            if change < self.config.change_tolerance {
                report.loss = loss;
                report.gradient_max = max_abs(&self.g);
                report.stop = Stop::Change;
                return Ok(());
            }
        }
    }

    /// `d = -(H + mu I)^-1 g`, with the smallest `mu` in `0, 1e-3 s, 1e-2 s, ...` (`s` the
    /// largest diagonal magnitude) that makes the matrix positive definite.
    fn solve(&mut self) {
        let n = self.g.len();
        let g = DVector::from_iterator(n, self.g.iter().map(|v| v.as_f64()));
        let scale = (0..n)
            .map(|i| self.hessian[(i, i)].abs())
            .fold(0.0, f64::max)
            .max(1e-12);
        let mut shift = 0.0;
        loop {
            let mut shifted = self.hessian.clone();
            for i in 0..n {
                shifted[(i, i)] += shift;
            }
            if let Some(cholesky) = shifted.cholesky() {
                let step = cholesky.solve(&g);
                for (d, s) in self.d.iter_mut().zip(step.iter()) {
                    *d = T::of_f64(-s);
                }
                return;
            }
            shift = if shift == 0.0 {
                1e-3 * scale
            } else {
                shift * 10.0
            };
        }
    }
}
