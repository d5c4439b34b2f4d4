//! What the code `network!` generates uses where the macro could not compare two widths
//! itself (a `const` item or a `{ constant expression }` on either side): a constant
//! evaluation that fails with the layer's message when they differ, and conversions between
//! the two spellings of the width, which are the identity when the program compiles.
//!
//! The compiler evaluates the check once, so a mismatch is one error at the layer, and the
//! conversions compile at any pair of widths, so it causes no others. Not part of the public
//! API.

use nalgebra::{Const, Dyn, MatrixView, MatrixViewMut};

use crate::batch::{BatchView, BatchViewMut, Sample};
use crate::scalar::Float;

/// The longest message [`Message`] holds; longer text is cut.
const CAPACITY: usize = 256;

/// A message built during a constant evaluation, for `panic!("{}", message.as_str())`.
///
/// ```
/// use constnet::__private::Message;
/// const M: Message = Message::new().text("layer `fc2` expects ").number(128).text(" inputs");
/// assert_eq!(M.as_str(), "layer `fc2` expects 128 inputs");
/// ```
#[derive(Clone, Copy)]
pub struct Message {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Message {
    /// An empty message.
    ///
    /// ```
    /// assert_eq!(constnet::__private::Message::new().as_str(), "");
    /// ```
    pub const fn new() -> Self {
        Message {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    /// The message followed by `text` (cut at a character boundary when it is full).
    ///
    /// ```
    /// use constnet::__private::Message;
    /// assert_eq!(Message::new().text("a").text("bc").as_str(), "abc");
    /// ```
    pub const fn text(mut self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() && self.len < CAPACITY {
            self.bytes[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// The message followed by `n` in decimal.
    ///
    /// ```
    /// use constnet::__private::Message;
    /// assert_eq!(Message::new().number(0).text(" ").number(4096).as_str(), "0 4096");
    /// ```
    pub const fn number(mut self, mut n: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while count > 0 && self.len < CAPACITY {
            count -= 1;
            self.bytes[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    /// The text so far.
    ///
    /// ```
    /// assert_eq!(constnet::__private::Message::new().text("é").as_str(), "é");
    /// ```
    pub const fn as_str(&self) -> &str {
        let mut len = self.len;
        // A multi-byte character cut at the capacity is dropped whole.
        loop {
            let (head, _) = self.bytes.split_at(len);
            match core::str::from_utf8(head) {
                Ok(text) => return text,
                Err(_) => len -= 1,
            }
        }
    }
}

impl Default for Message {
    fn default() -> Self {
        Message::new()
    }
}

/// A batch of `B`-wide samples read as `A`-wide: the same view when `A == B`, which the
/// generated width check guarantees in any program that compiles.
///
/// # Panics
/// If the view holds fewer than `A` values per sample (never after the check).
///
/// ```
/// use constnet::{Batch, __private as link};
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let same = link::link_batch::<f32, 2, 2>(x.columns(0, 2));
/// assert_eq!(same, x.columns(0, 2));
/// ```
#[inline(always)]
pub fn batch<T: Float, const A: usize, const B: usize>(
    x: BatchView<'_, T, B>,
) -> BatchView<'_, T, A> {
    let columns = x.ncols();
    MatrixView::from_slice_generic(x.data.into_slice(), Const::<A>, Dyn(columns))
}

/// The mutable form of [`batch`].
///
/// # Panics
/// If the view holds fewer than `A` values per sample (never after the check).
///
/// ```
/// use constnet::{Batch, __private as link};
/// let mut x = Batch::<f32, 2>::zeros(3);
/// link::link_batch_mut::<f32, 2, 2>(x.columns_mut(0, 3)).fill(1.0);
/// assert_eq!(x.sum(), 6.0);
/// ```
#[inline(always)]
pub fn batch_mut<T: Float, const A: usize, const B: usize>(
    x: BatchViewMut<'_, T, B>,
) -> BatchViewMut<'_, T, A> {
    let columns = x.ncols();
    MatrixViewMut::from_slice_generic(x.data.into_slice_mut(), Const::<A>, Dyn(columns))
}

/// One `B`-wide sample as an `A`-wide one (a copy, which the optimizer removes once the
/// layers inline).
///
/// # Panics
/// If `A != B` (never after the check).
///
/// ```
/// use constnet::{Sample, __private as link};
/// let x = Sample::<f32, 2>::new(1.0, 2.0);
/// assert_eq!(link::link_one::<f32, 2, 2>(&x), x);
/// ```
#[inline(always)]
pub fn one<T: Float, const A: usize, const B: usize>(x: &Sample<T, B>) -> Sample<T, A> {
    Sample::<T, A>::from_column_slice(x.as_slice())
}
