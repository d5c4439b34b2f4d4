//! `Network::backward_sgd` (and `Sgd::step_in_backward`) is backward followed by an SGD
//! step, without the gradient buffer: for every kind of layer (fused Dense + ReLU, plain
//! Dense, one- and two-input Dense, Maxout, batch norm, dropout), with and without weight
//! decay, the parameters after it match those of `backward` + `Regularizer::l2` +
//! `Sgd::step`. (`tests/allocations.rs` checks that it allocates nothing.)

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

/// One training step of `net` both ways from the same start, on the same batch and masks.
fn assert_same_step<const IN: usize, const OUT: usize, N: Network<f64, IN, OUT> + Clone>(
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
    reference
        .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
        .unwrap();
    if weight_decay > 0.0 {
        let l2 = Regularizer::l2(weight_decay).unwrap();
        l2.apply(&reference, &mut grads);
    }
    Sgd::new(lr)
        .unwrap()
        .step(reference.params_mut(), &grads)
        .unwrap();

    let mut fused = start.clone();
    let mut tape = fused.new_tape(batch);
    fused.forward_train(x.columns(0, batch), &mut tape).unwrap();
    let (scores, dscores) = tape.output_and_grad_mut();
    SoftmaxCrossEntropy
        .loss_and_grad(scores, &labels[..], dscores)
        .unwrap();
    let mut sgd = Sgd::new(lr).unwrap();
    sgd.step_in_backward(&mut fused, &mut tape, weight_decay)
        .unwrap();
    assert_eq!(Optimizer::<f64>::steps(&sgd), 1);

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
