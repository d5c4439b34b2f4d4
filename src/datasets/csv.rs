//! Text tables of numbers, as scikit-learn ships its toy datasets (plain or gzip-compressed,
//! detected from the bytes): labeled CSVs, one sample per line, its `N` features and then its
//! integer class; and regression tables, the inputs in one file and the targets in another,
//! line by line.

use std::path::Path;

use super::{Labeled, Regression, data_error, read_file};
use crate::batch::Batch;
use crate::error::Error;
use crate::scalar::Float;

/// What precedes the samples in a CSV file.
///
/// ```
/// use constnet::datasets::{Header, read_csv};
/// let path = std::env::temp_dir().join(format!("constnet-doc-header-{}.csv", std::process::id()));
/// std::fs::write(&path, "0.5,1.5,0\n2.5,3.5,1\n")?;
/// let data = read_csv::<f32, 2>(&path, Header::None)?;
/// assert_eq!(data.inputs.as_slice(), &[0.5, 1.5, 2.5, 3.5]);
/// assert_eq!(data.labels, [0, 1]);
/// // read as scikit-learn's, the first sample is taken for a header, which it is not
/// assert!(read_csv::<f32, 2>(&path, Header::Sklearn).is_err());
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// No header: the first line is a sample (scikit-learn's `digits.csv.gz`).
    None,
    /// scikit-learn's header `n_samples,n_features,class_name_0,class_name_1,...`
    /// (`iris.csv`, `wine_data.csv`, `breast_cancer.csv`): the loader checks the sample
    /// count, that `n_features` is the dataset's width, and that every label names a class.
    Sklearn,
}

/// What a loader does with a field that spells a non-finite number: `nan`, `inf`,
/// `-infinity` and the like, in any case (how pandas and NumPy write a missing or undefined
/// value). A number beyond the scalar type's range, such as `1e39` for `f32`, is refused
/// either way: it is not a missing value but one that would silently become infinity.
///
/// ```
/// use constnet::datasets::{Header, NonFinite, read_csv, read_csv_with};
/// let path = std::env::temp_dir().join(format!("constnet-doc-nonfinite-{}.csv", std::process::id()));
/// std::fs::write(&path, "0.5,NaN,0\n2.5,3.5,1\n")?;
/// let err = read_csv::<f32, 2>(&path, Header::None).unwrap_err(); // refused by default
/// assert!(err.to_string().contains(":1"), "{err}"); // with the file and line
/// let kept = read_csv_with::<f32, 2>(&path, Header::None, NonFinite::Keep)?;
/// assert!(kept.inputs[(1, 0)].is_nan());
/// assert_eq!(kept.without_non_finite().labels, [1]); // then dropped, or imputed by hand
/// std::fs::write(&path, "1e39,0,0\n")?; // beyond f32's range
/// assert!(read_csv_with::<f32, 2>(&path, Header::None, NonFinite::Keep).is_err());
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinite {
    /// An error naming the file, line and field (what [`read_csv`] and [`read_regression`]
    /// do): [`fit`](crate::train::fit) refuses such data anyway.
    #[default]
    Refuse,
    /// The field is read as NaN or an infinity, for the program to drop
    /// ([`Labeled::without_non_finite`](super::Labeled::without_non_finite)) or fill in
    /// before training.
    Keep,
}

/// Reads a labeled CSV whose samples have `N` features.
///
/// Errors name the file (and line) and what was expected and found: a missing file, a
/// header or a line whose width is not `N`, a field that is not a number, a label that is not
/// a class, a sample count that differs from the header's.
///
/// ```
/// use constnet::datasets::{Header, read_csv};
/// let iris = read_csv::<f32, 4>("data/sklearn/iris.csv", Header::Sklearn)?;
/// assert_eq!((iris.len(), iris.classes()), (150, 3));
/// let wrong = read_csv::<f32, 5>("data/sklearn/iris.csv", Header::Sklearn).unwrap_err();
/// assert!(wrong.to_string().contains("5 features"));
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn read_csv<T: Float, const N: usize>(
    path: impl AsRef<Path>,
    header: Header,
) -> Result<Labeled<T, N>, Error> {
    read_csv_with(path, header, NonFinite::Refuse)
}

/// [`read_csv`], with what to do with `nan` and `inf` fields chosen by `non_finite` (see
/// [`NonFinite`] for an example).
pub fn read_csv_with<T: Float, const N: usize>(
    path: impl AsRef<Path>,
    header: Header,
    non_finite: NonFinite,
) -> Result<Labeled<T, N>, Error> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let mut lines = numbered_lines(&text);
    let declared = match header {
        Header::None => None,
        Header::Sklearn => {
            let (_, line) = lines
                .next()
                .ok_or_else(|| data_error(path, "a header line", "an empty file"))?;
            Some(sklearn_header::<N>(path, line)?)
        }
    };
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (number, line) in lines {
        let at = || format!("{}:{number}", path.display());
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != N + 1 {
            return Err(Error::Data {
                path: at(),
                expected: format!("{N} features (the dataset's width) and a label"),
                found: format!(
                    "{} fields, i.e. {} features",
                    fields.len(),
                    fields.len().saturating_sub(1)
                ),
            });
        }
        push_numbers(&at, &fields[..N], non_finite, &mut values)?;
        let label_text = fields[N];
        let label: usize = label_text.parse().map_err(|_| Error::Data {
            path: at(),
            expected: "a class label (a non-negative integer)".into(),
            found: format!("`{label_text}`"),
        })?;
        if let Some((_, classes)) = declared
            && label >= classes
        {
            return Err(Error::Data {
                path: at(),
                expected: format!("a label below {classes}, the header's class count"),
                found: label.to_string(),
            });
        }
        labels.push(label);
    }
    if let Some((samples, _)) = declared
        && samples != labels.len()
    {
        return Err(data_error(
            path,
            format!("{samples} samples, as the header says"),
            labels.len(),
        ));
    }
    let inputs = Batch::<T, N>::from_vec(values);
    Labeled::new(inputs, labels)
}

/// `n_samples,n_features,class names...`: the sample count and the class count, after
/// checking that `n_features` is `N`.
fn sklearn_header<const N: usize>(path: &Path, line: &str) -> Result<(usize, usize), Error> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<usize>().ok());
    let (Some(samples), Some(features)) = (number(0), number(1)) else {
        return Err(data_error(
            path,
            "the header `n_samples,n_features,class names...`",
            format!("`{line}`"),
        ));
    };
    if features != N {
        return Err(data_error(
            path,
            format!("{N} features (the dataset's width)"),
            format!("{features} features in the header"),
        ));
    }
    Ok((samples, fields.len() - 2))
}

/// Reads a regression table: `inputs` holds one sample per line, `N` numbers, and `targets`
/// its `M` target values on the same line number. Fields are separated by commas or, in a
/// line without commas, by white space (scikit-learn's diabetes files); blank lines are
/// skipped.
///
/// Errors name the file (and line) and what was expected and found: a missing file, a line
/// with another number of fields than `N` (or `M`), a field that is not a number, and target
/// and input files with different numbers of lines.
///
/// ```
/// use constnet::datasets::read_regression;
/// let data = read_regression::<f32, 10, 1>(
///     "data/sklearn/diabetes_data_raw.csv.gz",
///     "data/sklearn/diabetes_target.csv.gz",
/// )?;
/// assert_eq!(data.len(), 442);
/// let wrong = read_regression::<f32, 9, 1>(
///     "data/sklearn/diabetes_data_raw.csv.gz",
///     "data/sklearn/diabetes_target.csv.gz",
/// ).unwrap_err();
/// assert!(wrong.to_string().contains("9 numbers"));
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn read_regression<T: Float, const N: usize, const M: usize>(
    inputs: impl AsRef<Path>,
    targets: impl AsRef<Path>,
) -> Result<Regression<T, N, M>, Error> {
    read_regression_with(inputs, targets, NonFinite::Refuse)
}

/// [`read_regression`], with what to do with `nan` and `inf` fields (in either file) chosen
/// by `non_finite`.
///
/// ```
/// use constnet::datasets::{NonFinite, read_regression_with};
/// let dir = std::env::temp_dir();
/// let (x, y) = (dir.join("constnet-doc-x.txt"), dir.join("constnet-doc-y.txt"));
/// std::fs::write(&x, "1 2\n3 nan\n5 6\n")?;
/// std::fs::write(&y, "0.5\n1.5\n-inf\n")?;
/// let data = read_regression_with::<f64, 2, 1>(&x, &y, NonFinite::Keep)?;
/// assert_eq!(data.without_non_finite().targets.as_slice(), &[0.5]);
/// assert!(read_regression_with::<f64, 2, 1>(&x, &y, NonFinite::Refuse).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_regression_with<T: Float, const N: usize, const M: usize>(
    inputs: impl AsRef<Path>,
    targets: impl AsRef<Path>,
    non_finite: NonFinite,
) -> Result<Regression<T, N, M>, Error> {
    let (inputs, targets) = (inputs.as_ref(), targets.as_ref());
    let x = read_table::<T, N>(inputs, "inputs", non_finite)?;
    let y = read_table::<T, M>(targets, "targets", non_finite)?;
    if y.ncols() != x.ncols() {
        return Err(data_error(
            targets,
            format!(
                "{} lines of targets, one per sample of {}",
                x.ncols(),
                inputs.display()
            ),
            format!("{} lines", y.ncols()),
        ));
    }
    Regression::new(x, y)
}

/// Loads scikit-learn's diabetes data (Efron et al., 2004) from `dir`, which holds its two
/// files under their scikit-learn names, `diabetes_data_raw.csv.gz` and
/// `diabetes_target.csv.gz`: 442 patients, 10 baseline variables in raw units (age, sex coded
/// 1 or 2, body mass index, blood pressure and six blood serum measurements; not scaled,
/// unlike `load_diabetes()`'s default) and one target, a measure of disease progression one
/// year later (25 to 346). See `data/sklearn/descr/diabetes.rst`.
///
/// ```
/// let data = constnet::datasets::diabetes::<f64>("data/sklearn")?;
/// assert_eq!(data.len(), 442);
/// assert_eq!(data.inputs.column(0)[2], 32.1); // the first patient's body mass index
/// assert_eq!(data.targets[(0, 0)], 151.0);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn diabetes<T: Float>(dir: impl AsRef<Path>) -> Result<Regression<T, 10, 1>, Error> {
    let dir = dir.as_ref();
    read_regression(
        dir.join("diabetes_data_raw.csv.gz"),
        dir.join("diabetes_target.csv.gz"),
    )
}

/// Every non-blank line of `path` as `W` numbers, one column per line.
fn read_table<T: Float, const W: usize>(
    path: &Path,
    what: &str,
    non_finite: NonFinite,
) -> Result<Batch<T, W>, Error> {
    let text = read_text(path)?;
    let mut values = Vec::new();
    for (number, line) in numbered_lines(&text) {
        let at = || format!("{}:{number}", path.display());
        let fields: Vec<&str> = if line.contains(',') {
            line.split(',').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        if fields.len() != W {
            return Err(Error::Data {
                path: at(),
                expected: format!("{W} numbers per line (the {what}' width)"),
                found: format!("{} fields", fields.len()),
            });
        }
        push_numbers(&at, &fields, non_finite, &mut values)?;
    }
    Ok(Batch::<T, W>::from_vec(values))
}

/// A whole file as text.
fn read_text(path: &Path) -> Result<String, Error> {
    String::from_utf8(read_file(path)?).map_err(|e| data_error(path, "UTF-8 text", e))
}

/// The non-blank lines of `text` with their line numbers, from 1.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(index, l)| (index + 1, l))
}

/// Parses every field as a number onto `values`; `at` names the line for an error.
fn push_numbers<T: Float>(
    at: &dyn Fn() -> String,
    fields: &[&str],
    non_finite: NonFinite,
    values: &mut Vec<T>,
) -> Result<(), Error> {
    for field in fields {
        let value: f64 = field.parse().map_err(|_| Error::Data {
            path: at(),
            expected: "a number".into(),
            found: format!("`{field}`"),
        })?;
        // `nan`, `inf`, and numbers beyond the scalar type's range (`1e39` for `f32`,
        // `1e400` for `f64`), which would become infinity; only the first two may be kept.
        let value = T::of_f64(value);
        let spelled = || {
            let word = field.trim_start_matches(['+', '-']).to_ascii_lowercase();
            matches!(word.as_str(), "nan" | "inf" | "infinity")
        };
        let kept = non_finite == NonFinite::Keep && spelled();
        if !(value.is_finite() || kept) {
            return Err(Error::Data {
                path: at(),
                expected: format!("a finite number within {}'s range", T::NAME),
                found: format!("`{field}`"),
            });
        }
        values.push(value);
    }
    Ok(())
}
