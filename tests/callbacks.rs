//! The trainer's callbacks: early stopping stops after its patience and leaves the best
//! epoch's weights, which are those of the best checkpoint saved beside it; the last
//! checkpoints are kept and older ones deleted; a resumed network and update rule continue
//! as the saved ones would; bad settings and a metric the run lacks are errors; a
//! callback's error ends the run.

use std::path::PathBuf;

use constnet::network::AnyNetwork;
use constnet::prelude::*;
use constnet::train::{
    AverageWeights, Callback, Config, Control, EarlyStopping, EpochStats, Every, Metric, Progress,
    SaveCheckpoints, fit, fit_with,
};
use constnet::{Checkpoint, datasets::spiral};

network! {
    struct Net { fc1: Dense<2, 64>, act: Relu, fc2: Dense<64, 3> }
    struct Dropped { fc1: Dense<2, 64>, act: Relu, drop: Dropout(0.7), fc2: Dense<64, 3> }
    struct FourArms { fc1: Dense<2, 32>, act: Relu, fc2: Dense<32, 4> }
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("constnet-callbacks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn quiet(epochs: usize, batch: usize) -> Config {
    Config {
        progress: Progress::Silent,
        ..Config::new(epochs, batch)
    }
}

#[test]
fn early_stopping_leaves_the_best_epoch_s_weights_which_the_best_checkpoint_holds() {
    let (train, val) = spiral::<f32>(100, 3, 0).shuffled(0).split(150);
    let dir = scratch("best");
    let mut stopping = EarlyStopping::new(Metric::ValAccuracy, 4).unwrap();
    let mut saves = SaveCheckpoints::new(&dir)
        .keep_last(2)
        .unwrap()
        .keep_best(Metric::ValAccuracy);
    let mut net = Net::new(0);
    let mut adam = AdamConfig::new(2e-2).build().unwrap();
    let history = fit_with(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &quiet(500, 30),
        &mut [&mut stopping, &mut saves],
    )
    .unwrap();
    let best = stopping.best_epoch().unwrap();
    let stopped = stopping
        .stopped_at()
        .expect("it stops well before 500 epochs");
    assert_eq!(history.epochs.len(), stopped);
    assert_eq!(stopped, best + 4);
    // The best epoch is the first with the highest validation accuracy.
    let accuracies: Vec<f64> = history
        .epochs
        .iter()
        .map(|e| e.val_accuracy.unwrap())
        .collect();
    let top = accuracies.iter().copied().fold(0.0, f64::max);
    assert_eq!(accuracies.iter().position(|&a| a == top), Some(best - 1));
    assert_eq!(stopping.best_value(), Some(top));
    // The network now has the best epoch's weights: those of best.safetensors.
    let saved = Checkpoint::load(dir.join("best.safetensors")).unwrap();
    assert_eq!(saved.metadata("epoch"), Some(best.to_string().as_str()));
    let mut from_file = Net::new(1);
    saved.restore(&mut from_file).unwrap();
    assert_eq!(from_file.params(), net.params());
    assert_eq!(net.accuracy(&val.inputs, &val.labels).unwrap(), top);
    // Only the last two epochs' checkpoints are left, with the update rule's state.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        "best.safetensors".to_string(),
        format!("epoch-{}.safetensors", stopped - 1),
        format!("epoch-{stopped}.safetensors"),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let last = Checkpoint::load(dir.join(format!("epoch-{stopped}.safetensors"))).unwrap();
    let mut rule = AdamConfig::new(2e-2).build::<f32>().unwrap();
    last.restore_with_optimizer(&mut Net::new(1), &mut rule)
        .unwrap();
    assert_eq!((rule.steps(), rule.state()), (adam.steps(), adam.state()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_resumed_from_its_checkpoint_ends_bit_for_bit_as_the_uninterrupted_run() {
    let data = spiral::<f32>(50, 3, 0);
    // Mini-batches reshuffled each epoch, and a learning rate decayed each step: the resumed
    // run must pick up both where the interrupted one was.
    let config = |epochs: usize| Config {
        schedule: Some((Schedule::inverse_time(1e-2, 0.01).unwrap(), Every::Step)),
        seed: 5,
        ..quiet(epochs, 40)
    };
    let (mut whole, mut whole_rule) = (Net::new(0), AdamConfig::new(1e-2).build::<f32>().unwrap());
    let whole_history = fit(
        &mut whole,
        &mut whole_rule,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(5),
    )
    .unwrap();

    // The same run, interrupted after epoch 3: only its checkpoints are left.
    let dir = scratch("resume");
    let mut saves = SaveCheckpoints::new(&dir);
    let (mut first, mut first_rule) = (Net::new(0), AdamConfig::new(1e-2).build::<f32>().unwrap());
    fit_with(
        &mut first,
        &mut first_rule,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(3),
        &mut [&mut saves],
    )
    .unwrap();
    drop((first, first_rule));
    let checkpoint = Checkpoint::load(dir.join("epoch-3.safetensors")).unwrap();
    let done: usize = checkpoint.metadata("epoch").unwrap().parse().unwrap();
    let (mut resumed, mut rule) = (Net::new(9), AdamConfig::new(1e-2).build::<f32>().unwrap());
    checkpoint
        .restore_with_optimizer(&mut resumed, &mut rule)
        .unwrap();
    let resume = Config {
        first_epoch: done + 1,
        ..config(5)
    };
    let history = fit(
        &mut resumed,
        &mut rule,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &resume,
    )
    .unwrap();
    assert_eq!(resumed.params(), whole.params());
    assert_eq!(
        (rule.steps(), rule.state()),
        (whole_rule.steps(), whole_rule.state())
    );
    assert_eq!(history.epochs.len(), 2);
    for (resumed, whole) in history.epochs.iter().zip(&whole_history.epochs[3..]) {
        assert_eq!(
            (resumed.epoch, resumed.train_loss),
            (whole.epoch, whole.train_loss)
        );
        assert_eq!(resumed.learning_rate, whole.learning_rate);
    }
    // Resuming past the end is an error.
    let past = Config {
        first_epoch: 6,
        ..config(5)
    };
    assert!(
        fit(
            &mut resumed,
            &mut rule,
            &SoftmaxCrossEntropy,
            &data,
            None,
            &past
        )
        .is_err()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_a_missing_metric_and_a_failing_callback_are_errors() {
    let data = spiral::<f32>(20, 3, 0);
    assert!(EarlyStopping::<f32>::new(Metric::ValLoss, 0).is_err());
    assert!(SaveCheckpoints::<f32>::new("x").keep_last(0).is_err());
    // Watching the validation loss of a run without a validation set.
    let mut stopping = EarlyStopping::new(Metric::ValLoss, 3).unwrap();
    let err = fit_with(
        &mut Net::new(0),
        &mut Sgd::new(0.1).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &quiet(5, 20),
        &mut [&mut stopping],
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotApplicable { .. }), "{err}");
    assert!(err.to_string().contains("validation loss"), "{err}");
    // A callback's own error ends the run after the step it failed on.
    struct Fails;
    impl<N, O> Callback<N, O> for Fails {
        fn after_step(&mut self, step: u64, _: f64, _: &N) -> Result<Control, Error> {
            if step == 2 {
                Err(Error::NotApplicable {
                    what: "step two".into(),
                })
            } else {
                Ok(Control::Continue)
            }
        }
    }
    let err = fit_with(
        &mut Net::new(0),
        &mut Sgd::new(0.1).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &quiet(5, 10),
        &mut [&mut Fails],
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "not applicable: step two");
    // Stopping after a step ends the run there.
    struct StopAt(u64, u64);
    impl<N, O> Callback<N, O> for StopAt {
        fn after_step(&mut self, step: u64, _: f64, _: &N) -> Result<Control, Error> {
            self.1 = step;
            Ok(if step == self.0 {
                Control::Stop
            } else {
                Control::Continue
            })
        }
        fn after_epoch(&mut self, _: &EpochStats, _: &mut N, _: &mut O) -> Result<Control, Error> {
            Ok(Control::Continue)
        }
    }
    let mut stop = StopAt(7, 0);
    let history = fit_with(
        &mut Net::new(0),
        &mut Sgd::new(0.1).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &quiet(5, 10),
        &mut [&mut stop],
    )
    .unwrap();
    assert_eq!(stop.1, 7);
    assert_eq!(history.epochs.len(), 1); // six steps an epoch: stopped in the second
}

#[test]
fn a_network_with_dropout_resumes_bit_for_bit_too() {
    let data = spiral::<f32>(50, 3, 0);
    let config = |first_epoch, epochs| Config {
        first_epoch,
        seed: 2,
        ..quiet(epochs, 30)
    };
    let (mut whole, mut whole_rule) = (Dropped::new(0), Sgd::new(0.5).unwrap());
    fit(
        &mut whole,
        &mut whole_rule,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(1, 4),
    )
    .unwrap();
    let dir = scratch("resume-dropout");
    let mut saves = SaveCheckpoints::new(&dir);
    let (mut first, mut rule) = (Dropped::new(0), Sgd::new(0.5).unwrap());
    fit_with(
        &mut first,
        &mut rule,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(1, 2),
        &mut [&mut saves],
    )
    .unwrap();
    let mut resumed = Dropped::new(7);
    Checkpoint::load(dir.join("epoch-2.safetensors"))
        .unwrap()
        .restore(&mut resumed)
        .unwrap();
    fit(
        &mut resumed,
        &mut rule,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(3, 4),
    )
    .unwrap();
    assert_eq!(resumed.params(), whole.params());
    // Each epoch draws other masks than the one before: not the same run twice.
    let (mut once, mut twice) = (Dropped::new(0), Dropped::new(0));
    fit(
        &mut once,
        &mut Sgd::new(0.5).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(1, 1),
    )
    .unwrap();
    fit(
        &mut twice,
        &mut Sgd::new(0.5).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config(2, 2),
    )
    .unwrap();
    assert_ne!(once.params(), twice.params());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The callbacks are typed by the scalar alone (`EarlyStopping<f32>`, `SaveCheckpoints<f32>`,
/// `AverageWeights<f32>`), so a run's callbacks kept in a struct of the user's serve networks
/// of any widths: here a 2-to-3 network, then a 2-to-4 one, each with fresh callbacks of the
/// same types, each stopping, saving and averaging its own parameters.
#[test]
fn callbacks_kept_in_a_struct_serve_networks_of_any_widths() {
    struct Watch {
        stopping: EarlyStopping<f32>,
        saves: SaveCheckpoints<f32>,
        average: AverageWeights<f32>,
    }
    /// Six epochs of `net` on spiral data of `OUT` arms, watched by fresh callbacks saving
    /// into `dir`.
    fn watched<N, const OUT: usize>(net: &mut N, dir: &std::path::Path) -> Watch
    where
        N: Network<f32, 2, OUT> + AnyNetwork<f32>,
    {
        let (train, val) = spiral::<f32>(60, OUT, 0).shuffled(0).split(50 * OUT);
        let mut w = Watch {
            stopping: EarlyStopping::new(Metric::ValLoss, 10).unwrap(),
            saves: SaveCheckpoints::new(dir).keep_last(1).unwrap(),
            average: AverageWeights::new(0.9).unwrap(),
        };
        let mut adam = AdamConfig::new(1e-2).build().unwrap();
        let callbacks: &mut [&mut dyn Callback<N, _>] =
            &mut [&mut w.stopping, &mut w.saves, &mut w.average];
        fit_with(
            net,
            &mut adam,
            &SoftmaxCrossEntropy,
            &train,
            Some(&val),
            &quiet(6, 30),
            callbacks,
        )
        .unwrap();
        assert_eq!(w.average.params().len(), N::PARAM_COUNT);
        assert!(w.stopping.best_epoch().is_some());
        w
    }
    let dir = scratch("any-widths");
    let three = watched(&mut Net::new(0), &dir.join("three"));
    let mut four_arms = FourArms::new(0);
    let four = watched(&mut four_arms, &dir.join("four"));
    assert_ne!(three.average.params().len(), four.average.params().len());
    let averaged = four.average.averaged(&four_arms).unwrap();
    assert_eq!(averaged.params(), four.average.params());
    for (run, shape) in [("three", [3, 64]), ("four", [4, 32])] {
        let saved = Checkpoint::load(dir.join(run).join("epoch-6.safetensors")).unwrap();
        assert_eq!(saved.get::<f32>("fc2.weight").unwrap().0, shape);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
