//! `fit` never trains on bad input, nor returns garbage: NaN or infinite data, labels out of
//! range and empty sets are errors before the first step, naming the sample's place in its
//! set; an update that leaves a parameter non-finite, even with a finite loss, stops the run
//! with the tensor's name and the parameters from before it.

use constnet::datasets::{Labeled, Regression};
use constnet::prelude::*;
use constnet::train::{Config, Progress, fit};

network! {
    struct Spiral { fc1: Dense<2, 16>, act: Relu, fc2: Dense<16, 3> }
    struct Line { fc1: Dense<2, 8>, act: Tanh, fc2: Dense<8, 1> }
}

fn silent(epochs: usize, batch: usize) -> Config {
    Config {
        progress: Progress::Silent,
        ..Config::new(epochs, batch)
    }
}

fn spiral() -> Labeled<f32, 2> {
    constnet::datasets::spiral::<f32>(20, 3, 0)
}

/// Trains a fresh `Spiral` with SGD; the error, and whether the parameters are still the
/// initial ones.
fn run_spiral(train: &Labeled<f32, 2>, val: Option<&Labeled<f32, 2>>) -> (Error, bool) {
    let mut net = Spiral::new(0);
    let mut sgd = Sgd::new(0.5).unwrap();
    let err = fit(
        &mut net,
        &mut sgd,
        &SoftmaxCrossEntropy,
        train,
        val,
        &silent(3, 10),
    )
    .unwrap_err();
    (err, net.params() == Spiral::new(0).params())
}

#[test]
fn a_nan_input_built_in_memory_is_an_error_before_training() {
    // ReLU maps NaN to 0, so the loss would stay finite while `0 * NaN` fills the weights.
    let mut data = spiral();
    data.inputs[(1, 37)] = f32::NAN;
    let (err, untouched) = run_spiral(&data, None);
    assert!(
        matches!(
            err,
            Error::NonFiniteData { set: "training", what: "input", sample: 37, element: 1, value }
                if value.is_nan()
        ),
        "{err}"
    );
    assert!(untouched);
    assert!(
        err.to_string().contains("sample 37, element 1, is NaN"),
        "{err}"
    );
}

#[test]
fn an_infinite_validation_input_is_an_error_before_training() {
    let (train, mut val) = spiral().shuffled(1).split(50);
    val.inputs[(0, 4)] = f32::INFINITY;
    let (err, untouched) = run_spiral(&train.into_inner(), Some(&val));
    assert_eq!(
        err,
        Error::NonFiniteData {
            set: "validation",
            what: "input",
            sample: 4,
            element: 0,
            value: f64::INFINITY,
        }
    );
    assert!(untouched);
}

#[test]
fn a_label_out_of_range_is_found_before_training_at_its_place_in_the_set() {
    let mut data = spiral();
    data.labels[53] = 3; // three classes
    let (err, untouched) = run_spiral(&data, None);
    assert_eq!(
        err,
        Error::LabelOutOfRange {
            sample: 53,
            label: 3,
            classes: 3,
        }
    );
    assert!(untouched, "no batch trained before the bad label was found");
    let (train, mut val) = spiral().split(50);
    val.labels[2] = 9;
    let (err, untouched) = run_spiral(&train.into_inner(), Some(&val));
    assert_eq!(
        err,
        Error::LabelOutOfRange {
            sample: 2,
            label: 9,
            classes: 3,
        }
    );
    assert!(
        untouched,
        "the bad validation label was found before the first epoch"
    );
}

#[test]
fn an_empty_validation_set_is_an_error_before_training() {
    let (train, _) = spiral().split(60);
    let empty = spiral().split(0).0.into_inner();
    let (err, untouched) = run_spiral(&train.into_inner(), Some(&empty));
    assert_eq!(err, Error::EmptySet { set: "validation" });
    assert!(untouched);
}

#[test]
fn an_infinite_regression_target_is_an_error_before_training() {
    let x = Batch::<f32, 2>::from_fn(40, |i, j| (i + j) as f32 / 40.0);
    let mut y = Batch::<f32, 1>::from_fn(40, |_, j| j as f32 / 40.0);
    y[(0, 11)] = f32::INFINITY;
    let data = Regression::new(x, y).unwrap();
    let mut net = Line::new(0);
    let mut sgd = Sgd::new(0.1).unwrap();
    let err = fit(
        &mut net,
        &mut sgd,
        &MeanSquaredError,
        &data,
        None,
        &silent(2, 8),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::NonFiniteData {
            set: "training",
            what: "target",
            sample: 11,
            element: 0,
            value: f64::INFINITY,
        }
    );
}

/// SGD that writes NaN into one parameter at its `bad_step`-th update (counted from 1), as
/// an overflow in an update rule would, while the gradients stay finite.
struct Poisoned {
    sgd: Sgd,
    steps: usize,
    bad_step: usize,
    index: usize,
    before_bad: Vec<f32>,
}

impl Optimizer<f32> for Poisoned {
    fn step(&mut self, params: &mut [f32], grads: &[f32]) -> Result<(), Error> {
        self.steps += 1;
        if self.steps == self.bad_step {
            self.before_bad = params.to_vec();
        }
        self.sgd.step(params, grads)?;
        if self.steps == self.bad_step {
            params[self.index] = f32::NAN;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        Optimizer::<f32>::learning_rate(&self.sgd)
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<(), Error> {
        Optimizer::<f32>::set_learning_rate(&mut self.sgd, lr)
    }

    fn steps(&self) -> u64 {
        self.steps as u64
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        Vec::new()
    }

    fn load_state(&mut self, _: u64, _: &[(&str, &[f32])]) -> Result<(), Error> {
        Ok(())
    }
}

/// Trains a `Spiral` (6 batches of 10 per epoch, 3 epochs) with an update that poisons
/// parameter `index` at update `bad_step`; the error, and whether the network holds the
/// parameters from before that update.
fn poisoned_run(bad_step: usize, index: usize) -> (Error, bool) {
    let mut net = Spiral::new(0);
    let mut poisoned = Poisoned {
        sgd: Sgd::new(0.5).unwrap(),
        steps: 0,
        bad_step,
        index,
        before_bad: Vec::new(),
    };
    let err = fit(
        &mut net,
        &mut poisoned,
        &SoftmaxCrossEntropy,
        &spiral(),
        None,
        &silent(3, 10),
    )
    .unwrap_err();
    (err, net.params() == &poisoned.before_bad[..])
}

#[test]
fn an_update_that_leaves_a_parameter_nan_stops_the_run_naming_the_tensor() {
    // fc1 has 2 * 16 weights and 16 biases: parameter 40 is fc1.bias[8]. Update 8 is the
    // second step of epoch 2.
    let (err, restored) = poisoned_run(8, 40);
    let Error::NonFiniteStep {
        what,
        tensor,
        epoch,
        step,
        value,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(
        (*what, tensor.as_str(), *epoch, *step),
        ("parameter", "fc1.bias", 2, 2)
    );
    assert!(value.is_nan());
    assert!(restored, "the parameters from before the update are back");
    assert!(err.to_string().contains("`fc1.bias` became NaN"), "{err}");
}

#[test]
fn a_nan_left_by_the_very_last_update_is_still_an_error() {
    // 18 updates in all; the last one poisons fc2.weight (parameters 48..96).
    let (err, restored) = poisoned_run(18, 50);
    assert!(
        matches!(&err, Error::NonFiniteStep { tensor, epoch: 3, step: 6, .. } if tensor == "fc2.weight"),
        "{err}"
    );
    assert!(restored);
}

#[test]
fn a_batch_size_beyond_the_set_is_one_batch_of_the_whole_set_not_an_abort() {
    // `usize::MAX` panicked with "capacity overflow", `1 << 40` aborted the process, and the
    // regression path overflowed `next + size`.
    for size in [usize::MAX, 1 << 40, 61] {
        let mut net = Spiral::new(0);
        let mut sgd = Sgd::new(0.5).unwrap();
        let history = fit(
            &mut net,
            &mut sgd,
            &SoftmaxCrossEntropy,
            &spiral(),
            None,
            &silent(2, size),
        )
        .unwrap();
        assert_eq!(history.epochs.len(), 2);
        let x = Batch::<f32, 2>::from_fn(30, |i, j| (i * j) as f32 / 30.0);
        let y = Batch::<f32, 1>::from_fn(30, |_, j| j as f32 / 30.0);
        let data = Regression::new(x, y).unwrap();
        let mut line = Line::new(0);
        let history = fit(
            &mut line,
            &mut sgd,
            &MeanSquaredError,
            &data,
            None,
            &silent(2, size),
        )
        .unwrap();
        assert!(history.last().unwrap().train_loss.is_finite());
    }
}

/// Adam after three steps on four parameters, and a checkpoint of it.
fn adam_and_checkpoint() -> (Adam<f32>, constnet::Checkpoint) {
    let mut adam = AdamConfig::new(1e-2).build::<f32>().unwrap();
    let mut params = [0.5f32, -0.5, 1.0, 2.0];
    for _ in 0..3 {
        adam.step(&mut params, &[0.1, -0.2, 0.3, 0.0]).unwrap();
    }
    let checkpoint = constnet::Checkpoint::new().with_optimizer(&adam);
    (adam, checkpoint)
}

/// Restores `checkpoint` into a fresh Adam: the error, and whether the rule is untouched.
fn restore_into_fresh(checkpoint: &constnet::Checkpoint) -> (Error, bool) {
    let mut fresh = AdamConfig::new(1e-2).build::<f32>().unwrap();
    let err = checkpoint.restore_optimizer(&mut fresh).unwrap_err();
    (
        err,
        fresh.steps() == 0 && fresh.state().iter().all(|(_, b)| b.is_empty()),
    )
}

#[test]
fn optimizer_state_from_a_file_is_validated_before_it_is_used() {
    let (adam, good) = adam_and_checkpoint();
    let mut resumed = AdamConfig::new(1e-2).build::<f32>().unwrap();
    good.restore_optimizer(&mut resumed).unwrap();
    assert_eq!((resumed.steps(), resumed.state()), (3, adam.state()));

    // A step counter that the next step would overflow (a panic in debug builds, every
    // parameter NaN in release).
    let mut at_limit = good.clone();
    at_limit.set_metadata("optimizer.steps", &u64::MAX.to_string());
    let (err, untouched) = restore_into_fresh(&at_limit);
    assert!(
        matches!(&err, Error::BadState { problem, .. } if problem.contains("largest")),
        "{err}"
    );
    assert!(untouched);

    // A negative second moment would make sqrt(v) NaN.
    let mut negative = good.clone();
    negative
        .add("optimizer.v", &[4], &[0.1f32, -0.3, 0.2, 0.0])
        .unwrap();
    let (err, untouched) = restore_into_fresh(&negative);
    assert_eq!(
        err.to_string(),
        "optimizer state `v`: element 1 is -0.30000001192092896, but it is a sum of squares"
    );
    assert!(untouched);

    // A NaN anywhere.
    let mut nan = good.clone();
    nan.add("optimizer.m", &[4], &[0.0f32, 0.0, f32::NAN, 0.0])
        .unwrap();
    let (err, untouched) = restore_into_fresh(&nan);
    assert!(err.to_string().contains("`m`: element 2 is NaN"), "{err}");
    assert!(untouched);

    // m and v of different lengths (which the first step used to find).
    let mut short = good.clone();
    short.add("optimizer.v", &[3], &[0.1f32, 0.1, 0.1]).unwrap();
    let (err, untouched) = restore_into_fresh(&short);
    assert!(
        matches!(
            err,
            Error::WrongLength {
                expected: 4,
                got: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(untouched);

    // v missing after three steps: resuming with an empty v silently restarted it.
    let mut missing = constnet::Checkpoint::new();
    missing.add("optimizer.m", &[4], adam.state()[0].1).unwrap();
    missing.set_metadata("optimizer.steps", "3");
    let (err, untouched) = restore_into_fresh(&missing);
    assert!(
        matches!(&err, Error::BadState { name, .. } if name.contains("`v`")),
        "{err}"
    );
    assert!(untouched);
}

#[test]
fn a_step_counter_near_its_limit_saturates_instead_of_overflowing() {
    let (_, mut checkpoint) = adam_and_checkpoint();
    checkpoint.set_metadata("optimizer.steps", &(u64::MAX - 1).to_string());
    let mut adam = AdamConfig::new(1e-2).build::<f32>().unwrap();
    checkpoint.restore_optimizer(&mut adam).unwrap();
    let mut params = [0.5f32, -0.5, 1.0, 2.0];
    for _ in 0..3 {
        adam.step(&mut params, &[0.1, -0.2, 0.3, 0.0]).unwrap();
    }
    assert_eq!(adam.steps(), u64::MAX);
    assert!(params.iter().all(|p| p.is_finite()), "{params:?}");
}

#[test]
fn hyperparameters_are_checked_in_the_scalar_type_the_parameters_are_in() {
    // eps = 1e-50 is 0 in f32: Adam's first zero gradient made 0/0 = NaN.
    let mut adam = AdamConfig {
        eps: 1e-50,
        ..AdamConfig::new(1e-3)
    }
    .build::<f32>()
    .unwrap();
    let mut params = [1.0f32, 2.0];
    let err = adam.step(&mut params, &[0.0, 0.5]).unwrap_err();
    assert!(
        matches!(err, Error::BadHyperparameter { name: "eps", .. }),
        "{err}"
    );
    assert_eq!(params, [1.0, 2.0]);
    // ... while in f64 it is a usable eps.
    let mut adam64 = AdamConfig {
        eps: 1e-50,
        ..AdamConfig::new(1e-3)
    }
    .build::<f64>()
    .unwrap();
    let mut params64 = [1.0f64, 2.0];
    adam64.step(&mut params64, &[0.0, 0.5]).unwrap();
    assert!(params64.iter().all(|p| p.is_finite()));
    // A learning rate of 1e300 is infinity in f32.
    let mut sgd = Sgd::new(1e300).unwrap();
    let err = sgd.step(&mut params, &[0.1, 0.1]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadHyperparameter {
                name: "learning rate",
                ..
            }
        ),
        "{err}"
    );
    // An L2 strength of 1e300 likewise, found by fit before it trains.
    let config = Config {
        regularizer: Some(Regularizer::l2(1e300).unwrap()),
        ..silent(2, 10)
    };
    let mut net = Spiral::new(0);
    let mut sgd = Sgd::new(0.1).unwrap();
    let err = fit(
        &mut net,
        &mut sgd,
        &SoftmaxCrossEntropy,
        &spiral(),
        None,
        &config,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadHyperparameter {
                name: "L2 strength",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(net.params(), Spiral::new(0).params());
}
