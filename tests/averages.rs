//! Ensembles against a hand computation, and the running average of the weights against its
//! formula, through a real training run, a checkpoint and a resume.

use constnet::ensemble::Ensemble;
use constnet::prelude::*;
use constnet::train::{AverageWeights, Callback, Config, Control, Progress, fit_with};
use constnet::{Checkpoint, Error};

network! {
    struct Net { fc1: Dense<2, 8>, relu: Relu, fc2: Dense<8, 3> }
    struct Linear { fc: Dense<2, 3> }
}

#[test]
fn an_ensemble_averages_its_members_probabilities() {
    // Two linear members with known weights; samples x = (1, 0) and (0, 1).
    let mut a = Linear::<f64>::init(0);
    a.write_param("fc.weight", &[1.0, 0.0, 0.0, 2.0, 0.0, 0.0])
        .unwrap();
    a.write_param("fc.bias", &[0.0; 3]).unwrap();
    let mut b = a.clone();
    b.write_param("fc.weight", &[0.0, 0.0, 0.0, 0.0, 3.0, 1.0])
        .unwrap();
    let x = constnet::batch::from_rows(&[[1.0, 0.0], [0.0, 1.0]]);
    let softmax = |z: [f64; 3]| {
        let e = z.map(f64::exp);
        let s: f64 = e.iter().sum();
        e.map(|v| v / s)
    };
    // member a scores (1, 0, 0) and (0, 2, 0); member b (0, 0, 3) and (0, 0, 1)
    let expected = [
        [softmax([1.0, 0.0, 0.0]), softmax([0.0, 0.0, 3.0])],
        [softmax([0.0, 2.0, 0.0]), softmax([0.0, 0.0, 1.0])],
    ]
    .map(|[p, q]| [0, 1, 2].map(|j| (p[j] + q[j]) / 2.0));
    let ensemble = Ensemble::new(vec![a, b]).unwrap();
    let p = ensemble.predict_proba(&x);
    for (sample, want) in expected.iter().enumerate() {
        for class in 0..3 {
            assert!((p[(class, sample)] - want[class]).abs() < 1e-15, "{p}");
        }
    }
    // sample 0: a says class 0 at 0.58, b class 2 at 0.91: class 2 wins the average
    assert_eq!(ensemble.predict(&x), [2, 1]);
    assert_eq!(ensemble.accuracy(&x, &[2, 1]).unwrap(), 1.0);
    assert_eq!(ensemble.accuracy(&x, &[0, 1]).unwrap(), 0.5);
    assert!(ensemble.accuracy(&x, &[0]).is_err());
    assert!(ensemble.accuracy(&x, &[0, 3]).is_err());
}

#[test]
fn an_ensemble_of_one_is_that_network() {
    let net = Net::<f32>::new(4);
    let x = Batch::<f32, 2>::from_fn(5, |i, j| (i as f32 - j as f32) * 0.3);
    let ensemble = Ensemble::new(vec![net.clone()]).unwrap();
    assert_eq!(ensemble.predict_proba(&x), net.predict_proba(&x));
}

/// Every step's parameters, as the trainer leaves them.
struct Steps(Vec<Vec<f64>>);

impl<O> Callback<Net<f64>, O> for Steps {
    fn after_step(&mut self, _: u64, _: f64, net: &Net<f64>) -> Result<Control, Error> {
        self.0.push(net.params().to_vec());
        Ok(Control::Continue)
    }
}

fn config(epochs: usize, first_epoch: usize) -> Config {
    Config {
        progress: Progress::Silent,
        first_epoch,
        ..Config::new(epochs, 20)
    }
}

#[test]
fn the_running_average_follows_its_formula_over_a_training_run() {
    let data = constnet::datasets::spiral::<f64>(40, 3, 1);
    let mut net = Net::<f64>::init(2);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let mut average = AverageWeights::new(0.9).unwrap();
    let mut steps = Steps(Vec::new());
    fit_with(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(5, 1),
        &mut [&mut steps, &mut average],
    )
    .unwrap();
    let steps = steps.0;
    assert_eq!(steps.len(), 5 * 6);
    assert_eq!(average.updates(), 30);
    // avg_t = 0.9^(t-1) w_1 + sum over s = 2..t of 0.1 * 0.9^(t-s) w_s
    let t = steps.len();
    for (i, &got) in average.params().iter().enumerate() {
        let mut want = 0.9f64.powi(t as i32 - 1) * steps[0][i];
        for (s, w) in steps.iter().enumerate().skip(1) {
            want += 0.1 * 0.9f64.powi((t - 1 - s) as i32) * w[i];
        }
        assert!((got - want).abs() < 1e-12, "{i}: {got} vs {want}");
    }
    let averaged = average.averaged(&net).unwrap();
    assert_eq!(averaged.params(), average.params());
    assert_eq!(averaged.state(), net.state());
}

#[test]
fn a_run_with_an_average_resumes_bit_for_bit_from_its_checkpoint() {
    let data = constnet::datasets::spiral::<f32>(40, 3, 1);
    let run = |epochs: usize, from: Option<&Checkpoint>| {
        let mut net = Net::<f32>::new(3);
        let mut adam = AdamConfig::new(1e-2).build().unwrap();
        let mut average = AverageWeights::new(AverageWeights::<f32>::DEFAULT_DECAY).unwrap();
        let first_epoch = match from {
            Some(checkpoint) => {
                checkpoint
                    .restore_with_optimizer(&mut net, &mut adam)
                    .unwrap();
                checkpoint.restore_average(&mut average).unwrap();
                checkpoint
                    .metadata("epoch")
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
                    + 1
            }
            None => 1,
        };
        fit_with(
            &mut net,
            &mut adam,
            &SoftmaxCrossEntropy,
            &data,
            None,
            &config(epochs.max(first_epoch), first_epoch),
            &mut [&mut average],
        )
        .unwrap();
        let mut checkpoint = Checkpoint::of(&net)
            .with_optimizer(&adam)
            .with_average(&average);
        checkpoint.set_metadata("epoch", &epochs.to_string());
        (net, average, checkpoint)
    };
    let (whole, whole_average, _) = run(6, None);
    let (_, _, halfway) = run(3, None);
    let bytes = halfway.to_bytes();
    let (resumed, resumed_average, _) = run(6, Some(&Checkpoint::from_bytes(&bytes).unwrap()));
    assert_eq!(resumed.params(), whole.params());
    assert_eq!(resumed_average.params(), whole_average.params());
    assert_eq!(resumed_average.updates(), whole_average.updates());
    // The model part of such a file still loads into a bare network.
    Checkpoint::from_bytes(&bytes)
        .unwrap()
        .restore(&mut Net::<f32>::new(0))
        .unwrap();
}

#[test]
fn bad_averages_are_errors() {
    let net = Net::<f32>::new(0);
    let average = AverageWeights::<f32>::new(0.5).unwrap();
    assert!(matches!(
        average.averaged(&net),
        Err(Error::NotApplicable { .. })
    ));
    // An average of another network's parameters.
    let mut other = AverageWeights::<f32>::new(0.5).unwrap();
    other.update(&[0.0; 5]).unwrap();
    assert!(matches!(
        other.averaged(&net),
        Err(Error::WrongLength {
            expected: 51,
            got: 5,
            ..
        })
    ));
    // A checkpoint without an average, or with a NaN in it.
    assert!(Checkpoint::of(&net).restore_average(&mut other).is_err());
    let mut nan = Checkpoint::new().with_average(&other);
    nan.add("average.params", &[2], &[0.0f32, f32::NAN])
        .unwrap();
    assert!(nan.restore_average(&mut other).is_err());
    assert_eq!(other.params(), [0.0; 5]); // unchanged
}

network! {
    struct Teacher { fc1: Dense<2, 64>, relu: Relu, fc2: Dense<64, 3> }
    struct Student { fc1: Dense<2, 12>, relu: Relu, fc2: Dense<12, 3> }
}

#[test]
fn a_small_network_distilled_from_an_ensemble_learns_the_ensemble_s_classes() {
    use constnet::datasets::Regression;
    use constnet::losses::Distillation;
    use constnet::train::fit;
    let data = constnet::datasets::spiral::<f32>(100, 3, 2).shuffled(0);
    let (train, test) = data.split(240);
    let quiet = |epochs| Config {
        progress: Progress::Silent,
        ..Config::new(epochs, 30)
    };
    let mut teachers = Vec::new();
    for seed in 0..3 {
        let mut net = Teacher::new(seed);
        let mut adam = AdamConfig::new(1e-2).build().unwrap();
        fit(
            &mut net,
            &mut adam,
            &SoftmaxCrossEntropy,
            &train,
            None,
            &quiet(150),
        )
        .unwrap();
        teachers.push(net);
    }
    let ensemble = Ensemble::new(teachers).unwrap();
    let teacher_accuracy = ensemble.accuracy(&test.inputs, &test.labels).unwrap();
    assert!(teacher_accuracy > 0.9, "{teacher_accuracy}");
    // The student's targets: the ensemble's probabilities at T = 4 with the true labels.
    let soft = ensemble.soft_targets(&train.inputs, 4.0).unwrap();
    let targets = Distillation::targets(&soft, &train.labels).unwrap();
    let distilled = Regression::new(train.inputs.clone(), targets)
        .unwrap()
        .into_training();
    let mut student = Student::new(7);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let loss = Distillation::new(4.0, 0.7).unwrap();
    let history = fit(
        &mut student,
        &mut adam,
        &loss,
        &distilled,
        None,
        &quiet(300),
    )
    .unwrap();
    assert!(history.last().unwrap().train_loss < history.epochs[0].train_loss);
    let student_accuracy = student.accuracy(&test.inputs, &test.labels).unwrap();
    assert!(
        student_accuracy > 0.8,
        "student {student_accuracy}, teachers {teacher_accuracy}"
    );
    // It agrees with its teachers on most test samples.
    let agree = ensemble
        .predict(&test.inputs)
        .iter()
        .zip(student.predict_batch(&test.inputs))
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(
        agree as f64 > 0.8 * test.len() as f64,
        "{agree} of {}",
        test.len()
    );
}
