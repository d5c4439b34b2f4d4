//! MNIST's IDX files (plain or gzip-compressed): a big-endian header, then one byte per pixel
//! or label.
//!
//! | file | header | payload |
//! |---|---|---|
//! | images | magic 2051, count, rows, columns (four `u32`) | `count * rows * columns` bytes |
//! | labels | magic 2049, count (two `u32`) | `count` bytes |

use std::path::Path;

use super::{Labeled, data_error, read_file};
use crate::{Batch, Error, Float};

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;

/// Which of MNIST's two sets.
///
/// The split chooses the files [`mnist`] reads. Here a folder holds a one-image test set
/// (uncompressed, under the original names) and no training set:
///
/// ```
/// use constnet::datasets::{Split, mnist};
/// let dir = std::env::temp_dir().join(format!("constnet-doc-split-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let header = |words: &[u32]| words.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
/// let mut images = header(&[2051, 1, 28, 28]);
/// images.extend([255u8; 784]);
/// std::fs::write(dir.join("t10k-images-idx3-ubyte"), images)?;
/// std::fs::write(dir.join("t10k-labels-idx1-ubyte"), [header(&[2049, 1]), vec![7]].concat())?;
/// let test = mnist::<f32>(&dir, Split::Test)?;
/// assert_eq!((test.labels, test.inputs[(0, 0)]), (vec![7], 1.0)); // pixels scaled to [0, 1]
/// assert!(mnist::<f32>(&dir, Split::Train).is_err()); // no train-* files
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The 60,000 training images (`train-*`).
    Train,
    /// The 10,000 test images (`t10k-*`).
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Loads one MNIST split from `dir` (holding `train-images-idx3-ubyte.gz` and the others under
/// their original names, compressed or not), pixels scaled to `[0, 1]`.
///
/// ```
/// use constnet::datasets::{Split, mnist};
/// let test = mnist::<f32>("data/mnist", Split::Test)?;
/// assert_eq!((test.len(), test.classes()), (10_000, 10));
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn mnist<T: Float>(dir: impl AsRef<Path>, split: Split) -> Result<Labeled<T, 784>, Error> {
    let dir = dir.as_ref();
    let find = |kind: &str| {
        let name = format!("{}-{kind}-ubyte", split.prefix());
        let gz = dir.join(format!("{name}.gz"));
        if gz.exists() { gz } else { dir.join(name) }
    };
    let data = read_idx::<T, 784>(find("images-idx3"), find("labels-idx1"), 10)?;
    Ok(data.scaled(T::of_f64(1.0 / 255.0)))
}

/// Reads an IDX image file and its label file into samples of `N = rows * columns` raw pixel
/// values (0 to 255), checking both magics, that the counts agree, that the images are `N`
/// wide, that neither file is truncated or too long, and that every label is below
/// `classes`.
///
/// ```
/// use constnet::datasets::read_idx;
/// let err = read_idx::<f32, 64>(
///     "data/mnist/t10k-images-idx3-ubyte.gz",
///     "data/mnist/t10k-labels-idx1-ubyte.gz",
///     10,
/// ).unwrap_err();
/// assert!(err.to_string().contains("64"));
/// ```
pub fn read_idx<T: Float, const N: usize>(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    classes: usize,
) -> Result<Labeled<T, N>, Error> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let image_bytes = read_file(images)?;
    let [magic, count, rows, columns] = header::<4>(images, &image_bytes)?;
    check_magic(images, magic, IMAGES_MAGIC)?;
    let width = rows as usize * columns as usize;
    if width != N {
        return Err(data_error(
            images,
            format!("images of {N} pixels (the dataset's width)"),
            format!("{rows} x {columns} = {width} pixels"),
        ));
    }
    let count = count as usize;
    let pixels = payload(images, &image_bytes, 16, count * N)?;

    let label_bytes = read_file(labels)?;
    let [magic, label_count] = header::<2>(labels, &label_bytes)?;
    check_magic(labels, magic, LABELS_MAGIC)?;
    if label_count as usize != count {
        return Err(data_error(
            labels,
            format!("{count} labels, one per image of {}", images.display()),
            label_count,
        ));
    }
    let label_values = payload(labels, &label_bytes, 8, count)?;
    if let Some((i, &bad)) = label_values
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= classes)
    {
        return Err(data_error(
            labels,
            format!("labels below {classes}"),
            format!("label {bad} at index {i}"),
        ));
    }
    let inputs = Batch::<T, N>::from_iterator(count, pixels.iter().map(|&p| T::of_f64(p.into())));
    Labeled::new(inputs, label_values.iter().map(|&l| l as usize).collect())
}

/// The first `K` big-endian `u32`s.
fn header<const K: usize>(path: &Path, bytes: &[u8]) -> Result<[u32; K], Error> {
    if bytes.len() < 4 * K {
        return Err(data_error(
            path,
            format!("an IDX header of {} bytes", 4 * K),
            format!("a file of {} bytes", bytes.len()),
        ));
    }
    Ok(std::array::from_fn(|i| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    }))
}

fn check_magic(path: &Path, found: u32, expected: u32) -> Result<(), Error> {
    if found == expected {
        Ok(())
    } else {
        Err(data_error(
            path,
            format!("the IDX magic number {expected}"),
            found,
        ))
    }
}

/// The `len` bytes after the header, which must be all that follows it.
fn payload<'a>(path: &Path, bytes: &'a [u8], start: usize, len: usize) -> Result<&'a [u8], Error> {
    let found = bytes.len() - start;
    if found != len {
        let what = if found < len { "truncated" } else { "too long" };
        return Err(data_error(
            path,
            format!("{len} bytes after the header"),
            format!("{found} ({what})"),
        ));
    }
    Ok(&bytes[start..])
}
