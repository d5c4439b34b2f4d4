//! MNIST's IDX files (plain or gzip-compressed): a big-endian header, then one byte per pixel
//! or label.
//!
//! | file | header | payload |
//! |---|---|---|
//! | images | magic 2051, count, rows, columns (four `u32`) | `count * rows * columns` bytes |
//! | labels | magic 2049, count (two `u32`) | `count` bytes |

use std::io::Read;
use std::path::Path;

use super::{Labeled, data_error, open_data, read_at_most, read_up_to};
use crate::batch::Batch;
use crate::error::Error;
use crate::scalar::Float;

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
/// their original names, compressed or not), pixels scaled to `[0, 1]`. A set published in
/// MNIST's layout under the same file names loads the same way, as Fashion-MNIST does (28 x
/// 28 images, 10 classes); for other sizes or names, [`read_idx`].
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
    let mut image_file = open_data(images)?;
    let [magic, count, rows, columns] = header::<4>(images, &mut image_file)?;
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
    let pixels = payload(images, &mut image_file, count as u64 * N as u64)?;

    let mut label_file = open_data(labels)?;
    let [magic, label_count] = header::<2>(labels, &mut label_file)?;
    check_magic(labels, magic, LABELS_MAGIC)?;
    if label_count as usize != count {
        return Err(data_error(
            labels,
            format!("{count} labels, one per image of {}", images.display()),
            label_count,
        ));
    }
    let label_values = payload(labels, &mut label_file, count as u64)?;
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
fn header<const K: usize>(path: &Path, reader: &mut dyn Read) -> Result<[u32; K], Error> {
    let bytes = read_up_to(path, reader, 4 * K as u64)?;
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

/// The `len` bytes after the header, which must be all that follows it: reading stops one
/// byte past what the header promises, so a file (or gzip bomb) longer than it says is an
/// error found without inflating the rest.
fn payload(path: &Path, reader: &mut dyn Read, len: u64) -> Result<Vec<u8>, Error> {
    let bytes = read_at_most(path, reader, len, || {
        format!("{len} bytes after the header")
    })?;
    if (bytes.len() as u64) < len {
        return Err(data_error(
            path,
            format!("{len} bytes after the header"),
            format!("{} (truncated)", bytes.len()),
        ));
    }
    Ok(bytes)
}
