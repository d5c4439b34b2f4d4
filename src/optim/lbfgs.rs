//! L-BFGS (Nocedal 1980; Nocedal and Wright, algorithm 7.4) over a flat parameter buffer,
//! with a strong Wolfe line search: the notes' practical second-order method for full-batch
//! problems, as PyTorch's `torch.optim.LBFGS(line_search_fn="strong_wolfe")`.
//!
//! Each iteration takes the direction `d = -H g` from the two-loop recursion over the last
//! `m` pairs `s = x_{k+1} - x_k`, `y = g_{k+1} - g_k` (with `H_0 = (s'y / y'y) I` from the
//! newest pair), then a step `t` along it that meets the strong Wolfe conditions. A pair
//! whose curvature `s'y` is not positive is skipped, which keeps `H` positive definite.

use super::line_search::{Wolfe, strong_wolfe};
use crate::error::Error;
use crate::scalar::Float;

/// The settings of [`Lbfgs`], with defaults after PyTorch's `LBFGS` but for the history.
///
/// ```
/// use constnet::optim::LbfgsConfig;
/// let config = LbfgsConfig::default();
/// assert_eq!((config.history, config.max_iterations), (20, 100));
/// assert!(LbfgsConfig { c2: 1e-5, ..config }.build::<f64>().is_err()); // c2 must exceed c1
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// How many pairs of steps and gradient changes to keep: 20 (PyTorch keeps 100; Nocedal
    /// and Wright find 3 to 20 enough, and each pair is two vectors of the parameters' size).
    pub history: usize,
    /// Iterations per call of [`Lbfgs::minimize`].
    pub max_iterations: usize,
    /// Evaluations of the objective per call (PyTorch's `max_eval`: 1.25 per iteration).
    pub max_evaluations: usize,
    /// Stop when the largest gradient component is at most this.
    pub gradient_tolerance: f64,
    /// Stop when the loss, or every parameter, changes by less than this in an iteration.
    pub change_tolerance: f64,
    /// Sufficient decrease: `f(x + t d) <= f(x) + c1 t g'd`.
    pub c1: f64,
    /// Curvature: `|g(x + t d)'d| <= c2 |g'd|`.
    pub c2: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            history: 20,
            max_iterations: 100,
            max_evaluations: 125,
            gradient_tolerance: 1e-7,
            change_tolerance: 1e-9,
            c1: 1e-4,
            c2: 0.9,
        }
    }
}

impl LbfgsConfig {
    /// Checks the settings: a history and budgets of at least 1, tolerances at least 0, and
    /// `0 < c1 < c2 < 1`.
    pub fn build<T: Float>(self) -> Result<Lbfgs<T>, Error> {
        let bad = |name, value: f64, expected| {
            Err(Error::BadHyperparameter {
                name,
                value,
                expected,
            })
        };
        if self.history == 0 {
            return bad("L-BFGS history", 0.0, "at least 1 pair");
        }
        if self.max_iterations == 0 || self.max_evaluations == 0 {
            return bad(
                "L-BFGS budget",
                0.0,
                "at least 1 iteration and 1 evaluation",
            );
        }
        for (name, value) in [
            ("L-BFGS gradient tolerance", self.gradient_tolerance),
            ("L-BFGS change tolerance", self.change_tolerance),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return bad(name, value, "finite and at least 0");
            }
        }
        if !(0.0 < self.c1 && self.c1 < self.c2 && self.c2 < 1.0) {
            return bad("Wolfe c1", self.c1, "0 < c1 < c2 < 1");
        }
        Ok(Lbfgs {
            config: self,
            n: 0,
            s: Vec::new(),
            y: Vec::new(),
            rho: Vec::new(),
            alpha: Vec::new(),
            pairs: 0,
            newest: 0,
            x0: Vec::new(),
            g0: Vec::new(),
            g: Vec::new(),
            d: Vec::new(),
        })
    }
}

/// Why [`Lbfgs::minimize`] or [`Newton::minimize`](super::Newton::minimize) stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The largest gradient component reached the gradient tolerance.
    Gradient,
    /// The loss or the parameters changed by less than the change tolerance.
    Change,
    /// The iteration budget ran out.
    Iterations,
    /// The evaluation budget ran out.
    Evaluations,
    /// The line search found no lower point along the direction.
    LineSearch,
}

/// What a call of [`Lbfgs::minimize`] or [`Newton::minimize`](super::Newton::minimize) did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinimizeReport {
    /// Iterations taken.
    pub iterations: usize,
    /// Evaluations of the objective, the first one included.
    pub evaluations: usize,
    /// The loss at the returned parameters.
    pub loss: f64,
    /// The largest gradient component there.
    pub gradient_max: f64,
    /// Why it stopped.
    pub stop: Stop,
}

/// L-BFGS with its history, which carries over from one [`minimize`](Lbfgs::minimize) call to
/// the next (as PyTorch's optimizer state does; [`reset`](Lbfgs::reset) forgets it). Every
/// buffer is allocated at the first call; an iteration allocates nothing.
///
/// ```
/// use constnet::optim::LbfgsConfig;
/// // Rosenbrock's function, minimum 0 at (1, 1).
/// let config = LbfgsConfig {
///     max_iterations: 200,
///     max_evaluations: 400,
///     change_tolerance: 1e-15, // PyTorch's 1e-9 stops at a loss of about 1e-10 here
///     ..Default::default()
/// };
/// let mut lbfgs = config.build::<f64>()?;
/// let mut x = [-1.2, 1.0];
/// let report = lbfgs.minimize(&mut x, |x, g| {
///     let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
///     g[0] = -2.0 * a - 400.0 * x[0] * b;
///     g[1] = 200.0 * b;
///     Ok(a * a + 100.0 * b * b)
/// })?;
/// assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6, "{x:?} {report:?}");
/// assert!(report.iterations < 60);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lbfgs<T> {
    config: LbfgsConfig,
    n: usize,
    /// The pairs, `history` slots of `n` values each, used as a ring.
    s: Vec<T>,
    y: Vec<T>,
    rho: Vec<f64>,
    alpha: Vec<f64>,
    /// How many slots hold a pair, and which holds the newest.
    pairs: usize,
    newest: usize,
    /// The start of the iteration, its gradient, the current gradient and the direction.
    x0: Vec<T>,
    g0: Vec<T>,
    g: Vec<T>,
    d: Vec<T>,
}

fn dot<T: Float>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.as_f64() * y.as_f64()).sum()
}

fn max_abs<T: Float>(a: &[T]) -> f64 {
    a.iter().fold(0.0, |m: f64, v| m.max(v.as_f64().abs()))
}

impl<T: Float> Lbfgs<T> {
    /// The settings.
    pub fn config(&self) -> &LbfgsConfig {
        &self.config
    }

    /// Forgets the history (for a new problem, or parameters changed from outside).
    pub fn reset(&mut self) {
        self.pairs = 0;
    }

    fn allocate(&mut self, n: usize) {
        if self.n == n && !self.x0.is_empty() {
            return;
        }
        let m = self.config.history;
        self.n = n;
        self.s = vec![T::ZERO; m * n];
        self.y = vec![T::ZERO; m * n];
        self.rho = vec![0.0; m];
        self.alpha = vec![0.0; m];
        self.pairs = 0;
        for buffer in [&mut self.x0, &mut self.g0, &mut self.g, &mut self.d] {
            *buffer = vec![T::ZERO; n];
        }
    }

    /// `d = -H g` by the two-loop recursion over the stored pairs (`-g` without any).
    fn direction(&mut self) {
        let (n, m) = (self.n, self.config.history);
        for (d, &g) in self.d.iter_mut().zip(&self.g) {
            *d = -g;
        }
        let slot = |k: usize| (self.newest + m - k) % m; // k = 0 is the newest
        for k in 0..self.pairs {
            let i = slot(k);
            let s = &self.s[i * n..(i + 1) * n];
            self.alpha[i] = self.rho[i] * dot(s, &self.d);
            let a = T::of_f64(self.alpha[i]);
            for (d, &y) in self.d.iter_mut().zip(&self.y[i * n..(i + 1) * n]) {
                *d -= a * y;
            }
        }
        if self.pairs > 0 {
            let i = self.newest;
            let (s, y) = (&self.s[i * n..(i + 1) * n], &self.y[i * n..(i + 1) * n]);
            let gamma = T::of_f64(dot(s, y) / dot(y, y));
            self.d.iter_mut().for_each(|d| *d *= gamma);
        }
        for k in (0..self.pairs).rev() {
            let i = slot(k);
            let beta = self.rho[i] * dot(&self.y[i * n..(i + 1) * n], &self.d);
            let c = T::of_f64(self.alpha[i] - beta);
            for (d, &s) in self.d.iter_mut().zip(&self.s[i * n..(i + 1) * n]) {
                *d += c * s;
            }
        }
    }

    /// Stores the pair `s = x - x0`, `y = g - g0` unless its curvature is not positive.
    fn remember(&mut self, x: &[T]) {
        let (n, m) = (self.n, self.config.history);
        let next = if self.pairs == 0 {
            0
        } else {
            (self.newest + 1) % m
        };
        let (s, y) = (
            &mut self.s[next * n..(next + 1) * n],
            &mut self.y[next * n..(next + 1) * n],
        );
        for (((s, y), (&x, &x0)), (&g, &g0)) in s
            .iter_mut()
            .zip(y.iter_mut())
            .zip(x.iter().zip(&self.x0))
            .zip(self.g.iter().zip(&self.g0))
        {
            *s = x - x0;
            *y = g - g0;
        }
        let curvature = dot(s, y);
        if curvature > 1e-10 * dot(y, y).sqrt() * dot(s, s).sqrt() && curvature.is_finite() {
            self.rho[next] = 1.0 / curvature;
            self.newest = next;
            self.pairs = (self.pairs + 1).min(m);
        }
    }

    /// Minimizes `objective` from `params`, which end at the lowest point reached.
    /// `objective(x, g)` returns the loss at `x` and writes its gradient into `g`. A
    /// non-finite loss or gradient, or an error from `objective`, ends the call with that
    /// error and `params` as they were at the call's start.
    pub fn minimize<F>(
        &mut self,
        params: &mut [T],
        mut objective: F,
    ) -> Result<MinimizeReport, Error>
    where
        F: FnMut(&[T], &mut [T]) -> Result<f64, Error>,
    {
        let n = params.len();
        self.allocate(n);
        let config = self.config;
        let start: Vec<T> = params.to_vec();
        let restore = |params: &mut [T], e: Error| {
            params.copy_from_slice(&start);
            Err(e)
        };
        let mut loss = match objective(params, &mut self.g) {
            Ok(v) if v.is_finite() && self.g.iter().all(|g| g.is_finite()) => v,
            Ok(v) => return restore(params, Error::NonFiniteLoss { value: v }),
            Err(e) => return restore(params, e),
        };
        let mut report = MinimizeReport {
            iterations: 0,
            evaluations: 1,
            loss,
            gradient_max: max_abs(&self.g),
            stop: Stop::Gradient,
        };
        if report.gradient_max <= config.gradient_tolerance {
            return Ok(report);
        }
        loop {
            self.direction();
            let slope = dot(&self.g, &self.d);
            if slope > -config.change_tolerance {
                // Not a descent direction any more (rounding): start the history afresh.
                if self.pairs == 0 {
                    report.stop = Stop::Change;
                    return Ok(report);
                }
                self.pairs = 0;
                continue;
            }
            // The first step of a fresh history is scaled as PyTorch's is: min(1, 1/|g|_1).
            let t0 = if self.pairs == 0 {
                (1.0 / self.g.iter().map(|g| g.as_f64().abs()).sum::<f64>()).min(1.0)
            } else {
                1.0
            };
            self.x0.copy_from_slice(params);
            self.g0.copy_from_slice(&self.g);
            let budget = config
                .max_evaluations
                .saturating_sub(report.evaluations)
                .max(1);
            let (x0, d, g) = (&self.x0, &self.d, &mut self.g);
            let mut phi = |t: f64| {
                let t = T::of_f64(t);
                for ((x, &x0), &d) in params.iter_mut().zip(x0).zip(d) {
                    *x = x0 + t * d;
                }
                let value = objective(params, g)?;
                Ok((value, dot(g, d)))
            };
            let found = match strong_wolfe(
                Wolfe {
                    c1: config.c1,
                    c2: config.c2,
                },
                loss,
                slope,
                t0,
                budget,
                &mut phi,
            ) {
                Ok(found) => found,
                Err(e) => return restore(params, e),
            };
            report.evaluations += found.evaluations;
            if found.t == 0.0 {
                // No lower point: back to the iteration's start.
                params.copy_from_slice(&self.x0);
                self.g.copy_from_slice(&self.g0);
                report.stop = Stop::LineSearch;
                return Ok(report);
            }
            report.iterations += 1;
            let change = (loss - found.value).abs();
            let moved = found.t * max_abs(&self.d);
            loss = found.value;
            self.remember(params);
            report.loss = loss;
            report.gradient_max = max_abs(&self.g);
            report.stop = if report.gradient_max <= config.gradient_tolerance {
                Stop::Gradient
            } else if change < config.change_tolerance || moved < config.change_tolerance {
                Stop::Change
            } else if report.iterations >= config.max_iterations {
                Stop::Iterations
            } else if report.evaluations >= config.max_evaluations {
                Stop::Evaluations
            } else {
                continue;
            };
            return Ok(report);
        }
    }
}
