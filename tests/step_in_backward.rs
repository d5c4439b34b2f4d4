//! `Network::backward_step` (through `Sgd::step_in_backward` and `Adam::step_in_backward`)
//! is backward followed by the step, without the gradient buffer: for every kind of layer
//! (fused Dense + ReLU, plain Dense, one- and two-input Dense, Maxout, batch norm, dropout),
//! with and without weight decay, and over several steps for Adam, the parameters after it
//! match those of `backward` + `Regularizer::l2` + `Optimizer::step`.
//! (`tests/allocations.rs` checks that it allocates nothing.)

use approx::assert_relative_eq;
use constnet::prelude::*;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

network! {
    struct Spiral { fc1: Dense<2, 100>, act: Relu, fc2: Dense<100, 3> }
    struct Deep {
        fc1: Dense<20, 40>, a1: Relu,
        fc2: Dense<40, 30>, a2: Tanh,
        fc3: Dense<30, 5>,
    }
    struct Mixed {
        mx: Maxout<6, 12, 2>, a1: Relu,
        fc1: Dense<12, 16>, bn: BatchNorm, a2: LeakyRelu(0.1), drop: Dropout(0.8),
        fc2: Dense<16, 4>,
    }
}

fn random_batch<const N: usize>(batch: usize, seed: u64) -> Batch<f64, N> {
    let mut rng = constnet::SeededRng::seed_from_u64(seed);
    Batch::<f64, N>::from_fn(batch, |_, _| rng.sample(StandardNormal))
}

/// The update rules that can step inside backward.
#[derive(Clone, Copy)]
enum Rule {
    Sgd,
    Adam,
}

/// `steps` training steps of `net` both ways from the same start, on the same batch and
/// masks.
fn assert_same_steps<const IN: usize, const OUT: usize, N: Network<f64, IN, OUT> + Clone>(
    rule: Rule,
    steps: usize,
    batch: usize,
    weight_decay: f64,
) {
    let lr = 0.05;
    let x = random_batch::<IN>(batch, 3);
    let labels: Vec<usize> = (0..batch).map(|i| (i * 7) % OUT).collect();
    let start = N::init(5);

    let mut reference = start.clone();
    let mut tape = reference.new_tape(batch);
    let mut grads = reference.new_grads();
    let (mut sgd, mut adam) = (Sgd::new(lr).unwrap(), AdamConfig::new(lr).build().unwrap());
    for _ in 0..steps {
        reference
            .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
            .unwrap();
        if weight_decay > 0.0 {
            let l2 = Regularizer::l2(weight_decay).unwrap();
            l2.apply(&reference, &mut grads);
        }
        match rule {
            Rule::Sgd => sgd.step(reference.params_mut(), &grads).unwrap(),
            Rule::Adam => adam.step(reference.params_mut(), &grads).unwrap(),
        }
    }

    let mut fused = start.clone();
    let mut tape = fused.new_tape(batch);
    let (mut sgd, mut adam) = (Sgd::new(lr).unwrap(), AdamConfig::new(lr).build().unwrap());
    for _ in 0..steps {
        fused.forward_train(x.columns(0, batch), &mut tape).unwrap();
        let (scores, dscores) = tape.output_and_grad_mut();
        SoftmaxCrossEntropy
            .loss_and_grad(scores, &labels[..], dscores)
            .unwrap();
        match rule {
            Rule::Sgd => sgd.step_in_backward(&mut fused, &mut tape, weight_decay),
            Rule::Adam => adam.step_in_backward(&mut fused, &mut tape, weight_decay),
        }
        .unwrap();
    }
    let done = match rule {
        Rule::Sgd => Optimizer::<f64>::steps(&sgd),
        Rule::Adam => adam.steps(),
    };
    assert_eq!(done, steps as u64);

    assert_ne!(
        fused.params(),
        start.params(),
        "the step moved the parameters"
    );
    assert_relative_eq!(
        fused.params(),
        reference.params(),
        epsilon = 1e-14,
        max_relative = 1e-12
    );
    assert_eq!(
        fused.state(),
        reference.state(),
        "batch norm's running statistics"
    );
}

fn assert_same_step<const IN: usize, const OUT: usize, N: Network<f64, IN, OUT> + Clone>(
    batch: usize,
    weight_decay: f64,
) {
    assert_same_steps::<IN, OUT, N>(Rule::Sgd, 1, batch, weight_decay);
}

#[test]
fn an_sgd_step_in_backward_is_backward_then_an_sgd_step() {
    // The spiral's 300 points take the AVX-512 kernels with the ReLU's mask, 5 do not.
    for weight_decay in [0.0, 1e-3, 0.5] {
        assert_same_step::<2, 3, Spiral<f64>>(300, weight_decay);
        assert_same_step::<2, 3, Spiral<f64>>(5, weight_decay);
        assert_same_step::<20, 5, Deep<f64>>(64, weight_decay);
        assert_same_step::<20, 5, Deep<f64>>(1, weight_decay);
        assert_same_step::<6, 4, Mixed<f64>>(33, weight_decay);
    }
}

#[test]
fn an_sgd_step_in_backward_needs_a_forward_pass_and_valid_rates() {
    let mut net = Spiral::new(1);
    let mut tape = net.new_tape(10);
    assert_eq!(
        net.backward_sgd(&mut tape, 0.1, 0.0),
        Err(Error::EmptyBatch)
    );
    let x = Batch::<f32, 2>::zeros(10);
    net.forward_train(x.columns(0, 10), &mut tape).unwrap();
    let before = net.params().to_vec();
    for (lr, weight_decay) in [
        (0.0, 0.0),
        (f32::NAN, 0.0),
        (0.1, -1e-3),
        (0.1, f32::INFINITY),
    ] {
        let err = net.backward_sgd(&mut tape, lr, weight_decay).unwrap_err();
        assert!(matches!(err, Error::BadHyperparameter { .. }), "{err}");
    }
    let mut sgd = Sgd::new(0.1).unwrap();
    assert!(sgd.step_in_backward(&mut net, &mut tape, -1.0).is_err());
    assert_eq!(Optimizer::<f32>::steps(&sgd), 0);
    assert_eq!(net.params(), &before[..], "a rejected step changed nothing");
}

#[test]
fn an_adam_step_in_backward_is_backward_then_an_adam_step() {
    // Three steps: the moments and the bias corrections carry over.
    for weight_decay in [0.0, 1e-3, 0.5] {
        assert_same_steps::<2, 3, Spiral<f64>>(Rule::Adam, 3, 300, weight_decay);
        assert_same_steps::<2, 3, Spiral<f64>>(Rule::Adam, 3, 5, weight_decay);
        assert_same_steps::<20, 5, Deep<f64>>(Rule::Adam, 3, 64, weight_decay);
        assert_same_steps::<20, 5, Deep<f64>>(Rule::Adam, 3, 1, weight_decay);
        assert_same_steps::<6, 4, Mixed<f64>>(Rule::Adam, 3, 33, weight_decay);
    }
}

#[test]
fn an_adam_step_in_backward_is_the_adam_step_in_f32_too() {
    // f32, where the products take the widest kernels: a W3-shaped layer stack, 2 steps.
    network! {
        struct Wide { fc1: Dense<96, 64>, a1: Relu, fc2: Dense<64, 32>, a2: Relu, fc3: Dense<32, 10> }
    }
    let batch = 64;
    let x = Batch::<f32, 96>::from_fn(batch, |i, j| ((i * 5 + j * 3) % 17) as f32 / 8.0 - 1.0);
    let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let start = Wide::new(2);
    let (mut reference, mut fused) = (start.clone(), start.clone());
    let (mut tape, mut grads) = (reference.new_tape(batch), reference.new_grads());
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let mut adam_fused = AdamConfig::new(1e-2).build().unwrap();
    for _ in 0..2 {
        reference
            .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
            .unwrap();
        Regularizer::l2(1e-3).unwrap().apply(&reference, &mut grads);
        adam.step(reference.params_mut(), &grads).unwrap();
        fused.forward_train(x.columns(0, batch), &mut tape).unwrap();
        let (scores, dscores) = tape.output_and_grad_mut();
        SoftmaxCrossEntropy
            .loss_and_grad(scores, &labels[..], dscores)
            .unwrap();
        adam_fused
            .step_in_backward(&mut fused, &mut tape, 1e-3)
            .unwrap();
    }
    assert_ne!(fused.params(), start.params());
    assert_relative_eq!(
        fused.params(),
        reference.params(),
        epsilon = 1e-6,
        max_relative = 1e-5
    );
    assert_eq!(adam_fused.state(), adam.state());
}

#[test]
fn an_adam_step_in_backward_rejects_state_of_another_network() {
    network! { struct Other { fc: Dense<2, 3> } }
    let (mut net, mut other) = (Spiral::new(1), Other::new(1));
    let mut tape = net.new_tape(4);
    let mut other_tape = other.new_tape(4);
    let x = Batch::<f32, 2>::from_fn(4, |i, j| (i + j) as f32);
    let mut adam = AdamConfig::default().build().unwrap();
    other
        .forward_train(x.columns(0, 4), &mut other_tape)
        .unwrap();
    adam.step_in_backward(&mut other, &mut other_tape, 0.0)
        .unwrap();
    net.forward_train(x.columns(0, 4), &mut tape).unwrap();
    let before = net.params().to_vec();
    let err = adam.step_in_backward(&mut net, &mut tape, 0.0).unwrap_err();
    assert!(matches!(err, Error::WrongLength { .. }), "{err}");
    assert!(
        adam.step_in_backward(&mut other, &mut other_tape, -1.0)
            .is_err()
    );
    assert_eq!(adam.steps(), 1, "rejected steps are not counted");
    assert_eq!(net.params(), &before[..], "a rejected step changed nothing");
}
