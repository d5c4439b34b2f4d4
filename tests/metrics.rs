//! The evaluation metrics against scikit-learn's documented values, and on a trained
//! network: its confusion matrix's diagonal is its accuracy, top-1 accuracy is accuracy,
//! top-K is 1, and the probabilities are the softmax of the scores.

use constnet::metrics::{ConfusionMatrix, r2_score, root_mean_squared_error, top_k_accuracy};
use constnet::prelude::*;
use constnet::train::{Config, Progress, fit};

network! {
    struct Spiral { fc1: Dense<2, 32>, act: Relu, fc2: Dense<32, 3> }
}

#[test]
fn precision_recall_and_f1_match_scikit_learn_s_example() {
    // sklearn.metrics.precision_recall_fscore_support's example:
    // y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
    let m = ConfusionMatrix::from_predictions(3, &[0, 2, 1, 0, 0, 1], &[0, 1, 2, 0, 1, 2]).unwrap();
    let precision: Vec<f64> = (0..3).map(|c| m.precision(c)).collect();
    let recall: Vec<f64> = (0..3).map(|c| m.recall(c)).collect();
    assert_eq!(precision, [2.0 / 3.0, 0.0, 0.0]);
    assert_eq!(recall, [1.0, 0.0, 0.0]);
    // average="macro": precision 0.22, recall 0.33, F1 0.26 (to two digits, as documented)
    assert!((m.macro_f1() - 0.8 / 3.0).abs() < 1e-12);
    let text = m.to_string();
    assert!(
        text.lines().count() == 5 && text.ends_with("accuracy 0.3333, macro F1 0.2667"),
        "{text}"
    );
}

#[test]
fn metrics_of_a_trained_classifier_agree_with_each_other() {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = Spiral::new(0);
    let config = Config {
        progress: Progress::Silent,
        ..Config::new(100, 300)
    };
    fit(
        &mut net,
        &mut AdamConfig::new(1e-2).build().unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config,
    )
    .unwrap();
    let scores = net.forward_batch(&data.inputs);
    let accuracy = net.accuracy(&data.inputs, &data.labels).unwrap();
    assert!(accuracy > 0.8, "{accuracy}");
    assert_eq!(top_k_accuracy(&scores, &data.labels, 1).unwrap(), accuracy);
    assert_eq!(top_k_accuracy(&scores, &data.labels, 3).unwrap(), 1.0);
    let m = ConfusionMatrix::from_scores(&scores, &data.labels).unwrap();
    assert_eq!(m.accuracy(), accuracy);
    let predicted = net.predict_batch(&data.inputs);
    assert_eq!(
        m,
        ConfusionMatrix::from_predictions(3, &predicted, &data.labels).unwrap()
    );
    let p = net.predict_proba(&data.inputs);
    for (column, s) in p.column_iter().zip(scores.column_iter()) {
        let z: f32 = s.iter().map(|v| v.exp()).sum();
        for (pi, si) in column.iter().zip(s.iter()) {
            assert!((pi - si.exp() / z).abs() < 1e-6);
        }
    }
    // Mismatched lengths and labels are errors.
    assert!(top_k_accuracy(&scores, &data.labels[1..], 1).is_err());
    assert!(ConfusionMatrix::from_predictions(3, &predicted, &vec![3; predicted.len()]).is_err());
}

#[test]
fn regression_metrics_of_a_perfect_and_a_constant_prediction() {
    let targets = Batch::<f64, 2>::from_column_slice(&[1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    assert_eq!(r2_score(&targets, &targets).unwrap(), 1.0);
    assert_eq!(root_mean_squared_error(&targets, &targets).unwrap(), 0.0);
    // Predicting each output's mean scores 0.
    let means = Batch::<f64, 2>::from_column_slice(&[2.0, 20.0, 2.0, 20.0, 2.0, 20.0]);
    assert_eq!(r2_score(&means, &targets).unwrap(), 0.0);
    assert!(r2_score(&means, &targets.columns(0, 2).into_owned()).is_err());
}
