//! L-BFGS: the finite termination theory gives on a convex quadratic, the strong Wolfe
//! conditions at every accepted step, a non-finite loss during the line search, and
//! full-batch training of a network with a penalty.

use constnet::optim::{LbfgsConfig, Stop};
use constnet::prelude::*;
use constnet::train::fit_lbfgs;

/// `f(x) = 0.5 x'Ax - b'x` with a symmetric positive definite `A` (condition number about
/// 100), and its gradient `Ax - b`.
struct Quadratic {
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
}

impl Quadratic {
    fn new(n: usize) -> Self {
        // A = Q diag(1..100) Q' with Q a product of rotations: dense and well defined.
        let mut a = vec![vec![0.0; n]; n];
        for (i, row) in a.iter_mut().enumerate() {
            row[i] = 1.0 + 99.0 * i as f64 / (n - 1) as f64;
        }
        for k in 0..n - 1 {
            let (c, s) = ((0.3 + k as f64).cos(), (0.3 + k as f64).sin());
            for row in a.iter_mut() {
                let (x, y) = (row[k], row[k + 1]);
                row[k] = c * x - s * y;
                row[k + 1] = s * x + c * y;
            }
            let (top, bottom) = a.split_at_mut(k + 1);
            for (x, y) in top[k].iter_mut().zip(bottom[0].iter_mut()) {
                let (p, q) = (*x, *y);
                *x = c * p - s * q;
                *y = s * p + c * q;
            }
        }
        let b = (0..n).map(|i| (i as f64 * 0.7).sin() + 0.5).collect();
        Quadratic { a, b }
    }

    fn eval(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        for (i, g) in g.iter_mut().enumerate() {
            let ax: f64 = self.a[i].iter().zip(x).map(|(a, x)| a * x).sum();
            *g = ax - self.b[i];
            f += 0.5 * x[i] * ax - self.b[i] * x[i];
        }
        f
    }
}

#[test]
fn on_a_convex_quadratic_lbfgs_with_exact_line_searches_ends_within_n_plus_1_steps() {
    for n in [2, 5, 8] {
        let q = Quadratic::new(n);
        // An exact line search (c2 near 0), as the theory assumes, and a full history.
        let config = LbfgsConfig {
            history: n,
            c2: 1e-10,
            c1: 1e-12,
            gradient_tolerance: 1e-9,
            change_tolerance: 0.0,
            max_evaluations: 1000,
            ..Default::default()
        };
        let mut lbfgs = config.build::<f64>().unwrap();
        let mut x = vec![0.0; n];
        let report = lbfgs.minimize(&mut x, |x, g| Ok(q.eval(x, g))).unwrap();
        assert_eq!(report.stop, Stop::Gradient, "n = {n}: {report:?}");
        assert!(report.iterations <= n + 1, "n = {n}: {report:?}");
    }
}

#[test]
fn every_accepted_step_meets_the_strong_wolfe_conditions() {
    // Rosenbrock's function in 4 dimensions, one iteration per call so that each step's
    // start and end are seen; the history carries over between calls.
    let rosenbrock = |x: &[f64], g: &mut [f64]| {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..x.len() - 1 {
            let (a, b) = (1.0 - x[i], x[i + 1] - x[i] * x[i]);
            f += a * a + 100.0 * b * b;
            g[i] += -2.0 * a - 400.0 * x[i] * b;
            g[i + 1] += 200.0 * b;
        }
        Ok(f)
    };
    let config = LbfgsConfig {
        max_iterations: 1,
        change_tolerance: 0.0,
        ..Default::default()
    };
    let (c1, c2) = (config.c1, config.c2);
    let mut lbfgs = config.build::<f64>().unwrap();
    let mut x = vec![-1.2, 1.0, -1.2, 1.0];
    let mut checked = 0;
    for _ in 0..200 {
        let start = x.clone();
        let mut g0 = vec![0.0; 4];
        let f0 = rosenbrock(&start, &mut g0).unwrap();
        let report = lbfgs.minimize(&mut x, rosenbrock).unwrap();
        if report.stop == Stop::Gradient && report.iterations == 0 {
            break;
        }
        let s: Vec<f64> = x.iter().zip(&start).map(|(a, b)| a - b).collect();
        let mut g1 = vec![0.0; 4];
        let f1 = rosenbrock(&x, &mut g1).unwrap();
        let slope0: f64 = g0.iter().zip(&s).map(|(g, s)| g * s).sum();
        let slope1: f64 = g1.iter().zip(&s).map(|(g, s)| g * s).sum();
        assert!(slope0 < 0.0, "not a descent step");
        assert!(
            f1 <= f0 + c1 * slope0,
            "sufficient decrease fails: {f1} > {f0} + {c1} * {slope0}"
        );
        assert!(
            slope1.abs() <= c2 * slope0.abs() + 1e-12,
            "curvature fails: {slope1} vs {slope0}"
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked} steps checked");
    assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{x:?}");
}

#[test]
fn a_non_finite_loss_in_the_line_search_is_an_error_and_the_parameters_are_restored() {
    // Finite near the start, NaN once a parameter passes 2: the first long step fails.
    let mut lbfgs = LbfgsConfig::default().build::<f64>().unwrap();
    let mut x = vec![0.0, 0.0];
    let err = lbfgs
        .minimize(&mut x, |x, g| {
            g[0] = -10.0;
            g[1] = -10.0;
            Ok(if x.iter().any(|&v| v > 0.05) {
                f64::NAN
            } else {
                -10.0 * (x[0] + x[1])
            })
        })
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { .. }), "{err:?}");
    assert_eq!(x, [0.0, 0.0]);
}

network! {
    struct Spiral { fc1: Dense<2, 32>, relu: Relu, fc2: Dense<32, 3> }
    struct WithDropout { fc1: Dense<2, 32>, relu: Relu, drop: Dropout(0.9), fc2: Dense<32, 3> }
}

#[test]
fn a_network_trained_full_batch_with_lbfgs_reaches_a_low_loss_with_its_penalty() {
    let data = constnet::datasets::spiral::<f64>(100, 3, 0);
    let l2 = Regularizer::l2(1e-3).unwrap();
    let mut net = Spiral::<f64>::init(0);
    let mut lbfgs = LbfgsConfig {
        max_iterations: 500,
        max_evaluations: 700,
        ..Default::default()
    }
    .build()
    .unwrap();
    let report = fit_lbfgs(&mut net, &mut lbfgs, &SoftmaxCrossEntropy, &data, Some(&l2)).unwrap();
    assert!(
        net.accuracy(&data.inputs, &data.labels).unwrap() > 0.97,
        "{report:?}"
    );
    // The reported loss is the data loss plus the penalty, at the returned parameters.
    let mut tape = net.new_tape(300);
    let mut grads = net.new_grads();
    let data_loss = net
        .loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )
        .unwrap();
    let penalty = l2.apply(&net, &mut grads);
    assert!(
        (report.loss - (data_loss + penalty)).abs() < 1e-12,
        "{report:?}"
    );
    // ... and the gradient there is what the report says.
    let largest = grads.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!((largest - report.gradient_max).abs() < 1e-12);
}

#[test]
fn dropout_masks_are_held_so_the_objective_is_fixed() {
    let data = constnet::datasets::spiral::<f64>(50, 3, 1);
    let mut net = WithDropout::<f64>::init(0);
    let mut lbfgs = LbfgsConfig {
        max_iterations: 50,
        ..Default::default()
    }
    .build()
    .unwrap();
    let report = fit_lbfgs(&mut net, &mut lbfgs, &SoftmaxCrossEntropy, &data, None).unwrap();
    // With masks redrawn at each evaluation the line search would wander; held, the loss
    // goes down steadily and the search stops for a reason other than a failed search.
    assert_ne!(report.stop, Stop::LineSearch, "{report:?}");
    assert!(report.loss < 0.6, "{report:?}");
}

#[test]
fn bad_settings_and_bad_data_are_errors() {
    for config in [
        LbfgsConfig {
            history: 0,
            ..Default::default()
        },
        LbfgsConfig {
            max_iterations: 0,
            ..Default::default()
        },
        LbfgsConfig {
            c1: 0.0,
            ..Default::default()
        },
        LbfgsConfig {
            c2: 1.0,
            ..Default::default()
        },
        LbfgsConfig {
            gradient_tolerance: f64::NAN,
            ..Default::default()
        },
    ] {
        assert!(config.build::<f32>().is_err(), "{config:?}");
    }
    let mut data = constnet::datasets::spiral::<f64>(10, 3, 1);
    data.inputs[(0, 3)] = f64::NAN;
    let mut net = Spiral::<f64>::init(0);
    let before = net.params().to_vec();
    let mut lbfgs = LbfgsConfig::default().build().unwrap();
    assert!(fit_lbfgs(&mut net, &mut lbfgs, &SoftmaxCrossEntropy, &data, None).is_err());
    assert_eq!(net.params(), &before[..]);
}

#[test]
fn on_a_convex_quadratic_newton_reaches_the_minimum_in_one_step() {
    use constnet::optim::NewtonConfig;
    for n in [2, 5, 8] {
        let q = Quadratic::new(n);
        let mut newton = NewtonConfig {
            max_iterations: 1,
            ..Default::default()
        }
        .build::<f64>()
        .unwrap();
        let mut x = vec![3.0; n];
        let mut g0 = vec![0.0; n];
        q.eval(&x, &mut g0);
        let start = g0.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let report = newton.minimize(&mut x, |x, g| Ok(q.eval(x, g))).unwrap();
        // One step, to the minimum up to the rounding of the differenced Hessian (about
        // 1e-10 relative): the gradient falls by more than eight orders of magnitude.
        assert_eq!(report.iterations, 1, "n = {n}: {report:?}");
        assert!(
            report.gradient_max < 1e-8 * start,
            "n = {n}: {report:?} from {start}"
        );
    }
}

network! {
    struct Tiny { fc1: Dense<2, 3>, act: Tanh, fc2: Dense<3, 2> }
    struct TooBig { fc: Dense<100, 100> }
}

#[test]
fn newton_s_hessian_matches_second_differences_of_the_loss_penalty_included() {
    use constnet::optim::NewtonConfig;
    let net = Tiny::<f64>::init(4);
    let x = Batch::<f64, 2>::from_fn(5, |i, j| ((i * 3 + j * 5) % 7) as f64 * 0.4 - 1.2);
    let labels = [0, 1, 1, 0, 1];
    let l2 = Regularizer::l2(0.05).unwrap();
    let mut work = net.clone();
    let mut tape = net.new_tape(5);
    let mut objective = |p: &[f64], g: &mut [f64]| {
        work.params_mut().copy_from_slice(p);
        let value = work.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, g)?;
        Ok(value + l2.apply(&work, g))
    };
    let mut params = net.params().to_vec();
    let n = params.len();
    let mut newton = NewtonConfig::default().build::<f64>().unwrap();
    let hessian = newton.hessian(&mut params, &mut objective).unwrap();
    assert_eq!(params, net.params()); // left where they were
    // Second differences of the loss itself: (f(++) - f(+-) - f(-+) + f(--)) / 4h^2.
    let h = 1e-4;
    let mut scratch = vec![0.0; n];
    let mut f = |p: &[f64]| objective(p, &mut scratch).unwrap();
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let at = |si: f64, sj: f64| {
                let mut p = params.clone();
                p[i] += si * h;
                p[j] += sj * h;
                p
            };
            let numeric = (f(&at(1.0, 1.0)) - f(&at(1.0, -1.0)) - f(&at(-1.0, 1.0))
                + f(&at(-1.0, -1.0)))
                / (4.0 * h * h);
            let analytic = hessian[i * n + j];
            let error = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-2);
            worst = worst.max(error);
        }
    }
    assert!(worst < 1e-5, "largest relative error {worst}");
    // Symmetric, and the penalty's curvature (0.05 on each weight) is on its diagonal: the
    // biases' rows without it.
    for i in 0..n {
        for j in 0..n {
            assert_eq!(hessian[i * n + j], hessian[j * n + i]);
        }
    }
}

#[test]
fn newton_refuses_a_network_too_large_for_its_hessian_and_restores_on_errors() {
    use constnet::optim::NewtonConfig;
    use constnet::train::fit_newton;
    let data =
        constnet::datasets::Labeled::new(Batch::<f64, 100>::zeros(4), vec![0, 1, 2, 3]).unwrap();
    let mut net = TooBig::<f64>::init(0);
    let before = net.params().to_vec();
    let mut newton = NewtonConfig::default().build().unwrap();
    let err = fit_newton(&mut net, &mut newton, &SoftmaxCrossEntropy, &data, None).unwrap_err();
    assert!(err.to_string().contains("10100 parameters"), "{err}");
    assert!(err.to_string().contains("L-BFGS"), "{err}");
    assert_eq!(net.params(), &before[..]);
    // A loss that turns NaN during the line search: an error, the start restored.
    let mut newton = NewtonConfig::default().build::<f64>().unwrap();
    let mut x = vec![0.0, 0.0];
    let result = newton.minimize(&mut x, |x, g| {
        g[0] = 2.0 * x[0] - 10.0;
        g[1] = 2.0 * x[1] - 10.0;
        Ok(if x[0] > 1.0 {
            f64::NAN
        } else {
            x[0] * x[0] + x[1] * x[1] - 10.0 * (x[0] + x[1])
        })
    });
    assert!(result.is_err());
    assert_eq!(x, [0.0, 0.0]);
}
