//! The update rules, schedules, regularizers and diagnostics of the CS231n notes, each
//! checked against its formula computed by hand, plus the notes' sanity checks and the spiral
//! net trained with every rule.

use approx::assert_relative_eq;
use constnet::gradcheck::Options;
use constnet::prelude::*;

network! {
    struct SpiralNet { fc1: Dense<2, 100>, relu: Relu, fc2: Dense<100, 3> }
    struct SmallNet { fc1: Dense<3, 5>, act: Tanh, fc2: Dense<5, 3> }
}

const X0: [f64; 3] = [1.0, -2.0, 0.5];
/// Gradients for three consecutive steps.
const GRADS: [[f64; 3]; 3] = [[0.5, -1.0, 2.0], [0.1, 0.3, -0.2], [-0.4, 0.0, 1.5]];

/// Runs the optimizer over `GRADS` and compares each step with `reference`, which applies
/// the rule's formula by hand to one scalar (state in `state`, step number from 1).
fn check_steps<O: Optimizer<f64>>(
    mut opt: O,
    reference: impl Fn(f64, f64, &mut [f64; 3], u64) -> f64,
) {
    let mut x = X0;
    let mut expected = X0;
    let mut states = [[0.0; 3]; 3];
    for (t, g) in GRADS.iter().enumerate() {
        opt.step(&mut x, g).unwrap();
        for i in 0..3 {
            expected[i] = reference(expected[i], g[i], &mut states[i], t as u64 + 1);
        }
        for i in 0..3 {
            assert_relative_eq!(x[i], expected[i], max_relative = 1e-12);
        }
    }
    assert_eq!(opt.steps(), 3);
}

#[test]
fn sgd_follows_its_formula() {
    check_steps(Sgd::new(0.1).unwrap(), |x, dx, _, _| x - 0.1 * dx);
}

#[test]
fn momentum_follows_its_formula_over_several_steps() {
    check_steps(MomentumConfig::new(0.1).build().unwrap(), |x, dx, s, _| {
        s[0] = 0.9 * s[0] - 0.1 * dx;
        x + s[0]
    });
}

#[test]
fn nesterov_follows_the_notes_rewritten_form() {
    let config = NesterovConfig {
        mu: 0.8,
        ..NesterovConfig::new(0.05)
    };
    check_steps(config.build().unwrap(), |x, dx, s, _| {
        let v_prev = s[0];
        s[0] = 0.8 * s[0] - 0.05 * dx;
        x - 0.8 * v_prev + 1.8 * s[0]
    });
}

#[test]
fn adagrad_follows_its_formula_over_several_steps() {
    check_steps(AdagradConfig::new(0.5).build().unwrap(), |x, dx, s, _| {
        s[0] += dx * dx;
        x - 0.5 * dx / (s[0].sqrt() + 1e-8)
    });
}

#[test]
fn rmsprop_follows_its_formula_over_several_steps() {
    check_steps(RmsPropConfig::new(0.01).build().unwrap(), |x, dx, s, _| {
        s[0] = 0.99 * s[0] + 0.01 * dx * dx;
        x - 0.01 * dx / (s[0].sqrt() + 1e-8)
    });
}

#[test]
fn adam_follows_its_formula_over_several_steps() {
    check_steps(AdamConfig::new(0.01).build().unwrap(), |x, dx, s, t| {
        s[0] = 0.9 * s[0] + 0.1 * dx;
        s[1] = 0.999 * s[1] + 0.001 * dx * dx;
        let m_hat = s[0] / (1.0 - 0.9f64.powi(t as i32));
        let v_hat = s[1] / (1.0 - 0.999f64.powi(t as i32));
        x - 0.01 * m_hat / (v_hat.sqrt() + 1e-8)
    });
}

#[test]
fn adams_bias_correction_makes_the_first_step_lr_times_the_sign() {
    // At t = 1, m_hat = dx and v_hat = dx^2: the step is lr * dx / (|dx| + eps), whatever the
    // gradient's scale. Without the correction it would be 0.1 * dx / sqrt(0.001) * lr.
    let mut adam = AdamConfig::new(0.01).build::<f64>().unwrap();
    let mut x = [0.0; 4];
    let grads = [1e-3, -5.0, 100.0, 0.0];
    adam.step(&mut x, &grads).unwrap();
    for (x, g) in x.iter().zip(grads) {
        assert_relative_eq!(*x, -0.01 * g / (g.abs() + 1e-8), max_relative = 1e-12);
    }
    assert!((x[0] + 0.01).abs() < 1e-7 && (x[1] - 0.01).abs() < 1e-9);
}

#[test]
fn out_of_range_hyperparameters_are_errors() {
    assert!(Sgd::new(0.0).is_err());
    assert!(MomentumConfig::new(-0.1).build::<f32>().is_err());
    for mu in [-0.1, 1.0, f64::NAN] {
        assert!(
            MomentumConfig {
                mu,
                ..MomentumConfig::new(0.1)
            }
            .build::<f32>()
            .is_err()
        );
        assert!(
            NesterovConfig {
                mu,
                ..NesterovConfig::new(0.1)
            }
            .build::<f32>()
            .is_err()
        );
    }
    for decay in [0.0, 1.0, 1.5] {
        let config = RmsPropConfig {
            decay,
            ..RmsPropConfig::new(0.1)
        };
        let err = config.build::<f32>().unwrap_err();
        assert!(err.to_string().contains("decay rate"), "{err}");
    }
    assert!(
        AdagradConfig {
            eps: -1.0,
            ..AdagradConfig::new(0.1)
        }
        .build::<f32>()
        .is_err()
    );
    assert!(
        AdamConfig {
            beta1: 1.0,
            ..AdamConfig::default()
        }
        .build::<f32>()
        .is_err()
    );
    assert!(
        AdamConfig {
            lr: f64::INFINITY,
            ..AdamConfig::default()
        }
        .build::<f32>()
        .is_err()
    );
    let mut adam = AdamConfig::default().build::<f32>().unwrap();
    assert!(Optimizer::<f32>::set_learning_rate(&mut adam, -1.0).is_err());
    assert!(Regularizer::l2(-1.0).is_err());
    assert!(Regularizer::elastic_net(0.1, f64::NAN).is_err());
    assert!(MaxNorm::new(0.0).is_err());
}

#[test]
fn a_stateful_rule_rejects_a_parameter_buffer_of_another_size() {
    let mut adam = AdamConfig::default().build::<f32>().unwrap();
    adam.step(&mut [0.0; 3], &[1.0; 3]).unwrap();
    assert!(adam.step(&mut [0.0; 4], &[1.0; 4]).is_err());
    assert!(adam.step(&mut [0.0; 3], &[1.0; 2]).is_err());
}

#[test]
fn saved_and_restored_state_continues_exactly() {
    let mut straight = AdamConfig::new(0.01).build::<f64>().unwrap();
    let mut x = X0;
    for g in &GRADS {
        straight.step(&mut x, g).unwrap();
    }
    let mut first = AdamConfig::new(0.01).build::<f64>().unwrap();
    let mut y = X0;
    first.step(&mut y, &GRADS[0]).unwrap();
    let saved: Vec<(String, Vec<f64>)> = first
        .state()
        .into_iter()
        .map(|(name, values)| (name.to_string(), values.to_vec()))
        .collect();
    let mut resumed = AdamConfig::new(0.01).build::<f64>().unwrap();
    let buffers: Vec<(&str, &[f64])> = saved.iter().map(|(n, v)| (n.as_str(), &v[..])).collect();
    resumed.load_state(first.steps(), &buffers).unwrap();
    for g in &GRADS[1..] {
        resumed.step(&mut y, g).unwrap();
    }
    assert_eq!(x, y);
    assert!(resumed.load_state(0, &[("velocity", &[0.0][..])]).is_err());
}

#[test]
fn a_schedule_drives_any_rule() {
    let schedule = Schedule::exponential(0.1, 0.5).unwrap();
    let mut rms = RmsPropConfig::new(1.0).build::<f32>().unwrap();
    let mut momentum = MomentumConfig::new(1.0).build::<f32>().unwrap();
    for t in 0..4 {
        let lr = schedule.apply(&mut rms, t).unwrap();
        schedule.apply(&mut momentum, t).unwrap();
        assert_eq!(
            Optimizer::<f32>::learning_rate(&rms),
            0.1 * (-0.5 * t as f64).exp()
        );
        assert_eq!(Optimizer::<f32>::learning_rate(&momentum), lr);
    }
}

/// The spiral data with a tape and gradient buffer sized for it.
struct Spiral {
    data: constnet::datasets::Labeled<f32, 2>,
    tape: SpiralNetTape,
    grads: Vec<f32>,
}

impl Spiral {
    fn new() -> Self {
        let net = SpiralNet::new(0);
        Spiral {
            data: constnet::datasets::spiral::<f32>(100, 3, 0),
            tape: net.new_tape(300),
            grads: net.new_grads(),
        }
    }

    /// The full-batch softmax loss of `net`, its gradient left in `self.grads`.
    fn loss_and_grad(&mut self, net: &mut SpiralNet) -> f32 {
        let data = &self.data;
        net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut self.tape,
            &mut self.grads,
        )
        .unwrap()
    }
}

fn spiral_loss(net: &SpiralNet, regularizer: Regularizer) -> f32 {
    let mut spiral = Spiral::new();
    let mut net = net.clone();
    spiral.loss_and_grad(&mut net) + regularizer.apply(&net, &mut spiral.grads)
}

#[test]
fn raising_the_regularization_strength_raises_the_loss() {
    let net = SpiralNet::new(3);
    let elastic_net = |lambda| Regularizer::elastic_net(lambda, 0.5 * lambda);
    let makes: [&dyn Fn(f64) -> Result<Regularizer, Error>; 3] =
        [&Regularizer::l2, &Regularizer::l1, &elastic_net];
    for make in makes {
        let losses: Vec<f32> = [0.0, 1e-3, 1e-1, 1e1]
            .into_iter()
            .map(|lambda| spiral_loss(&net, make(lambda).unwrap()))
            .collect();
        assert!(losses.windows(2).all(|w| w[0] < w[1]), "{losses:?}");
    }
}

#[test]
fn regularized_losses_pass_gradcheck() {
    let net = SmallNet::<f64>::init(4);
    let x = Batch::<f64, 3>::from_fn(5, |i, j| ((i * 5 + j * 3) % 7) as f64 * 0.3 - 1.0);
    let labels = [0, 2, 1, 1, 0];
    for regularizer in [
        Regularizer::l2(0.3).unwrap(),
        Regularizer::l1(0.05).unwrap(),
        Regularizer::elastic_net(0.05, 0.2).unwrap().with_biases(),
    ] {
        let options = Options {
            regularizer: Some(regularizer),
            ..Options::default()
        };
        let report = net
            .gradcheck(&x, &labels[..], &SoftmaxCrossEntropy, &options)
            .unwrap();
        assert!(report.passed(), "{regularizer:?}\n{report}");
    }
}

#[test]
fn biases_are_regularized_only_when_asked() {
    let mut net = SmallNet::<f64>::init(5);
    let bias = vec![1.0; 5];
    net.write_param("fc1.bias", &bias).unwrap();
    let without = Regularizer::l1(1.0).unwrap();
    let with = without.with_biases();
    assert_relative_eq!(
        with.value(&net) - without.value(&net),
        5.0,
        max_relative = 1e-12
    );
    let mut grads = net.new_grads();
    with.apply(&net, &mut grads);
    let range = net.tensor("fc1.bias").unwrap().range();
    assert!(grads[range].iter().all(|&g| g == 1.0));
}

#[test]
fn max_norm_keeps_every_neurons_incoming_weights_within_the_bound() {
    let mut net = SpiralNet::new(6);
    let mut spiral = Spiral::new();
    let mut sgd = Sgd::new(5.0).unwrap();
    let max_norm = MaxNorm::new(0.5).unwrap();
    for _ in 0..50 {
        spiral.loss_and_grad(&mut net);
        sgd.step(net.params_mut(), &spiral.grads).unwrap();
        max_norm.apply(&mut net);
    }
    for (name, fan_in) in [("fc1.weight", 2), ("fc2.weight", 100)] {
        let w = net.param(name).unwrap(); // [out, in], row-major
        let norms: Vec<f32> = w
            .chunks(fan_in)
            .map(|row| row.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect();
        assert!(
            norms.iter().all(|&n| n <= 0.5 * (1.0 + 1e-6)),
            "{name}: {norms:?}"
        );
        assert!(
            norms.iter().any(|&n| n > 0.49),
            "{name}: the bound never bit"
        );
    }
}

#[test]
fn the_update_monitor_reports_ratios_and_gradient_norms_per_tensor() {
    let mut net = SpiralNet::new(7);
    let mut spiral = Spiral::new();
    spiral.loss_and_grad(&mut net);
    let grads = &spiral.grads;
    let before = net.param("fc2.weight").unwrap();
    let grad_norm = grads[net.tensor("fc2.weight").unwrap().range()]
        .iter()
        .map(|g| (g * g) as f64)
        .sum::<f64>()
        .sqrt();
    let mut monitor = UpdateMonitor::new(&net);
    let mut sgd = Sgd::new(0.1).unwrap();
    monitor.step(&mut net, grads, &mut sgd).unwrap();
    let names: Vec<&str> = monitor.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
    let fc2 = &monitor.tensors()[2];
    let weight_norm = before.iter().map(|w| (w * w) as f64).sum::<f64>().sqrt();
    assert_relative_eq!(fc2.grad_norm, grad_norm, max_relative = 1e-6);
    assert_relative_eq!(fc2.weight_norm, weight_norm, max_relative = 1e-6);
    // SGD's update is lr * gradient.
    assert_relative_eq!(fc2.update_norm, 0.1 * grad_norm, max_relative = 1e-4);
    assert_relative_eq!(
        fc2.update_ratio(),
        0.1 * grad_norm / weight_norm,
        max_relative = 1e-4
    );
}

/// Trains the spiral net full-batch with `opt` (and L2 1e-3) and returns the accuracy.
fn train_spiral<O: Optimizer<f32>>(mut opt: O, steps: usize) -> f64 {
    let mut net = SpiralNet::new(0);
    let mut spiral = Spiral::new();
    let l2 = Regularizer::l2(1e-3).unwrap();
    for _ in 0..steps {
        spiral.loss_and_grad(&mut net);
        l2.apply(&net, &mut spiral.grads);
        opt.step(net.params_mut(), &spiral.grads).unwrap();
    }
    net.accuracy(&spiral.data.inputs, &spiral.data.labels)
        .unwrap()
}

#[test]
fn the_spiral_net_reaches_98_percent_with_every_rule() {
    let results = [
        ("SGD", train_spiral(Sgd::new(1.0).unwrap(), 3000)),
        (
            "momentum",
            train_spiral(MomentumConfig::new(0.1).build().unwrap(), 3000),
        ),
        (
            "Nesterov",
            train_spiral(NesterovConfig::new(0.1).build().unwrap(), 3000),
        ),
        (
            "Adagrad",
            train_spiral(AdagradConfig::new(0.5).build().unwrap(), 3000),
        ),
        (
            "RMSprop",
            train_spiral(RmsPropConfig::new(1e-2).build().unwrap(), 3000),
        ),
        (
            "Adam",
            train_spiral(AdamConfig::new(1e-2).build().unwrap(), 3000),
        ),
    ];
    for (name, accuracy) in results {
        assert!(accuracy >= 0.98, "{name}: {accuracy}");
    }
}

/// Every rule flushes parameters and state below the normal range to zero (a subnormal weight
/// would send every product that reads it down the CPU's slow path), and leaves normal values
/// to the formula.
#[test]
fn every_rule_flushes_subnormal_values_to_zero() {
    fn check<O: Optimizer<f32>>(name: &str, mut rule: O) {
        let tiny = f32::MIN_POSITIVE / 4.0;
        assert!(tiny.is_subnormal());
        let mut x = [tiny, 1.0, -tiny, 0.5];
        // A zero gradient everywhere but the last parameter, whose gradient is subnormal.
        let dx = [0.0, 0.0, 0.0, tiny];
        for _ in 0..3 {
            rule.step(&mut x, &dx).unwrap();
        }
        assert_eq!(&x[..3], &[0.0, 1.0, 0.0], "{name}");
        assert!(x[3].is_normal(), "{name}: {}", x[3]);
        for (state, values) in rule.state() {
            assert!(
                values.iter().all(|v| !v.is_subnormal()),
                "{name} {state}: {values:?}"
            );
        }
    }
    check("SGD", Sgd::new(0.1).unwrap());
    check("momentum", MomentumConfig::new(0.1).build().unwrap());
    check("Nesterov", NesterovConfig::new(0.1).build().unwrap());
    check("Adagrad", AdagradConfig::new(0.1).build().unwrap());
    check("RMSprop", RmsPropConfig::new(0.1).build().unwrap());
    check("Adam", AdamConfig::new(0.1).build().unwrap());
}
