//! Labeled CSV files: one sample per line, its `N` features and then its integer class, as
//! scikit-learn ships its toy datasets (plain or gzip-compressed, detected from the bytes).

use std::path::Path;

use super::{Labeled, data_error, read_file};
use crate::{Batch, Error, Float};

/// What precedes the samples in a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// No header: the first line is a sample (scikit-learn's `digits.csv.gz`).
    None,
    /// scikit-learn's header `n_samples,n_features,class_name_0,class_name_1,...`
    /// (`iris.csv`, `wine_data.csv`, `breast_cancer.csv`): the loader checks the sample
    /// count, that `n_features` is the dataset's width, and that every label names a class.
    Sklearn,
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
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| data_error(path, "UTF-8 text", e))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
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
    for (index, line) in lines {
        let at = || format!("{}:{}", path.display(), index + 1);
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
        for field in &fields[..N] {
            let value: f64 = field.parse().map_err(|_| Error::Data {
                path: at(),
                expected: "a number".into(),
                found: format!("`{field}`"),
            })?;
            values.push(T::of_f64(value));
        }
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
