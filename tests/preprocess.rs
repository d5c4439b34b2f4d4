//! Preprocessing fitted on a training split: standardized training data has zero mean and
//! unit variance, PCA keeps the largest variances, whitened data has identity covariance.

use constnet::datasets::{Header, Labeled, Training, read_csv};
use constnet::preprocess::{Granularity, Pca, Preprocess, Standardize};

fn wine() -> (Training<f64, 13>, Labeled<f64, 13>) {
    read_csv::<f64, 13>("data/sklearn/wine_data.csv", Header::Sklearn)
        .unwrap()
        .shuffled(0)
        .split(140)
}

/// The covariance `X X^T / n` of the centered columns of `x`.
fn covariance<const N: usize>(x: &constnet::Batch<f64, N>) -> nalgebra::DMatrix<f64> {
    let n = x.ncols() as f64;
    let mean = x.column_mean();
    let centered = nalgebra::DMatrix::from_fn(N, x.ncols(), |i, j| x[(i, j)] - mean[i]);
    &centered * centered.transpose() / n
}

#[test]
fn standardized_training_features_have_zero_mean_and_unit_variance() {
    let (train, val) = wine();
    let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    let out = standardize.apply(&train);
    let cov = covariance(&out.inputs);
    for i in 0..13 {
        assert!(out.inputs.row(i).mean().abs() < 1e-12, "feature {i}");
        assert!(
            (cov[(i, i)] - 1.0).abs() < 1e-12,
            "feature {i}: {}",
            cov[(i, i)]
        );
    }
    // Validation gets the training statistics: close to, not exactly, standard.
    let val = standardize.apply(&val);
    let proline = val.inputs.row(12).mean();
    assert!(proline != 0.0 && proline.abs() < 1.0, "{proline}");
    // Mean subtraction alone leaves the scale.
    let centered = Standardize::fit(&train, Granularity::PerFeature, false).apply(&train);
    assert!(
        (covariance(&centered.inputs)[(12, 12)] - covariance(&train.inputs)[(12, 12)]).abs() < 1e-6
    );
}

#[test]
fn scalar_standardization_uses_one_mean_and_one_deviation_for_all_features() {
    let (train, _) = wine();
    let standardize = Standardize::fit(&train, Granularity::Scalar, true);
    assert!(
        standardize
            .mean()
            .iter()
            .all(|&m| m == standardize.mean()[0])
    );
    let out = standardize.apply(&train);
    let values: Vec<f64> = out.inputs.iter().copied().collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    assert!(
        mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12,
        "{mean} {var}"
    );
}

#[test]
fn pca_keeps_the_largest_variances_and_whitening_gives_identity_covariance() {
    let (train, _) = wine();
    let train = train.map(|t| Standardize::fit(&train, Granularity::PerFeature, true).apply(t));
    let pca = Pca::<f64, 13, 5>::fit(&train, None).unwrap();
    let projected = pca.apply(&train);
    let cov = covariance(&projected.inputs);
    let eigenvalues = pca.eigenvalues();
    for k in 0..5 {
        assert!((cov[(k, k)] - eigenvalues[k]).abs() < 1e-9, "component {k}");
        if k > 0 {
            assert!(eigenvalues[k] <= eigenvalues[k - 1]);
        }
        for l in 0..k {
            assert!(
                cov[(k, l)].abs() < 1e-9,
                "components {k} and {l} are correlated"
            );
        }
    }
    // The 13 standardized features have total variance 13; five components keep most.
    let kept: f64 = eigenvalues.iter().sum();
    assert!(kept > 0.75 * 13.0 && kept < 13.0, "{kept}");

    let white = Pca::<f64, 13, 5>::fit(&train, Some(1e-9))
        .unwrap()
        .apply(&train);
    let cov = covariance(&white.inputs);
    let identity = nalgebra::DMatrix::<f64>::identity(5, 5);
    assert!((cov - identity).amax() < 1e-6);
}

#[test]
fn pca_on_the_digits_whitens_the_top_components() {
    let (train, _) = read_csv::<f64, 64>("data/sklearn/digits.csv.gz", Header::None)
        .unwrap()
        .shuffled(1)
        .split(1500);
    let white = Pca::<f64, 64, 20>::fit(&train, Some(1e-5))
        .unwrap()
        .apply(&train);
    let cov = covariance(&white.inputs);
    assert!((cov - nalgebra::DMatrix::<f64>::identity(20, 20)).amax() < 1e-5);
}

#[test]
fn a_negative_whitening_eps_is_an_error() {
    let (train, _) = wine();
    assert!(Pca::<f64, 13, 2>::fit(&train, Some(-1.0)).is_err());
    assert!(Pca::<f64, 13, 2>::fit(&train, Some(f64::NAN)).is_err());
}
