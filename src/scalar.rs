//! The scalar types a network computes in: `f32` (the default) and `f64` (for gradient checks).

use std::fmt::{Debug, Display};

use nalgebra::RealField;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar a network can compute in: implemented for `f32` and `f64` only.
///
/// Everything nalgebra needs comes through [`RealField`]; the extra items here are the
/// conversions a trained `f32` network needs to be gradient-checked in `f64`.
///
/// ```
/// use constnet::Float;
/// assert_eq!(<f32 as Float>::of_f64(0.5), 0.5f32);
/// assert_eq!(2.0f32.as_f64(), 2.0);
/// ```
pub trait Float:
    RealField + Copy + Default + Debug + Display + Send + Sync + 'static + sealed::Sealed
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// The machine epsilon of the type.
    const EPSILON: Self;
    /// The type's name, for reports.
    const NAME: &'static str;
    /// Converts from `f64`, rounding to nearest.
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` (exact for both implementations).
    fn as_f64(self) -> f64;
    /// `c = alpha * a * b + beta * c` through `matrixmultiply` (`sgemm` or `dgemm`), each
    /// operand given as (pointer, row stride, column stride) and the shape as `[m, k, n]`.
    ///
    /// # Safety
    /// The pointers must be valid for every element the shape and strides address, `c` for
    /// writes, and `c` must not overlap `a` or `b`.
    #[doc(hidden)]
    #[allow(unsafe_code)]
    unsafe fn matrixmultiply(
        mkn: [usize; 3],
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );

    /// Converts between the two scalar types.
    fn cast<U: Float>(self) -> U {
        U::of_f64(self.as_f64())
    }
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const EPSILON: Self = f32::EPSILON;
    const NAME: &'static str = "f32";
    #[allow(unsafe_code)]
    #[inline]
    unsafe fn matrixmultiply(
        [m, k, n]: [usize; 3],
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    ) {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            matrixmultiply::sgemm(
                m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
            );
        }
    }
    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const EPSILON: Self = f64::EPSILON;
    const NAME: &'static str = "f64";
    #[allow(unsafe_code)]
    #[inline]
    unsafe fn matrixmultiply(
        [m, k, n]: [usize; 3],
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    ) {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            matrixmultiply::dgemm(
                m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
            );
        }
    }
    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}
