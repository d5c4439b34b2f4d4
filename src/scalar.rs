//! The scalar types a network computes in: `f32` (the default) and `f64` (for gradient checks).

use std::fmt::{Debug, Display};

use nalgebra::RealField;

/// A floating-point scalar a network can compute in: implemented for `f32` and `f64` only.
///
/// Everything nalgebra needs comes through [`RealField`], and everything the matrix kernels
/// need (`ZERO`, `ONE`, the micro-kernels) through `constnet_kernels::Scalar`, which is
/// sealed; the extra items here are the conversions a trained `f32` network needs to be
/// gradient-checked in `f64`.
///
/// ```
/// use constnet::Float;
/// assert_eq!(<f32 as Float>::of_f64(0.5), 0.5f32);
/// assert_eq!(2.0f32.as_f64(), 2.0);
/// fn halve<T: Float>(x: T) -> T {
///     x * T::of_f64(0.5) + T::ZERO
/// }
/// assert_eq!(halve(3.0f64), 1.5);
/// ```
pub trait Float:
    RealField + Copy + Default + Debug + Display + Send + Sync + 'static + constnet_kernels::Scalar
{
    /// The machine epsilon of the type.
    ///
    /// ```
    /// use constnet::Float;
    /// assert_eq!(<f32 as Float>::EPSILON, f32::EPSILON);
    /// assert!(1.0 + <f64 as Float>::EPSILON > 1.0);
    /// ```
    const EPSILON: Self;
    /// The smallest positive normal value: below it, arithmetic on x86 takes a slow path
    /// (a microcode assist per operation on subnormal operands).
    ///
    /// ```
    /// use constnet::Float;
    /// let smallest = <f32 as Float>::MIN_POSITIVE;
    /// assert!(smallest.is_normal());
    /// assert!(!(smallest / 2.0).is_normal()); // half of it is subnormal
    /// ```
    const MIN_POSITIVE: Self;
    /// The type's name, for reports.
    ///
    /// ```
    /// use constnet::Float;
    /// assert_eq!((<f32 as Float>::NAME, <f64 as Float>::NAME), ("f32", "f64"));
    /// ```
    const NAME: &'static str;
    /// Converts from `f64`, rounding to nearest.
    ///
    /// ```
    /// use constnet::Float;
    /// assert_eq!(f32::of_f64(0.1), 0.1f32); // the nearest f32 to 0.1
    /// assert_eq!(f64::of_f64(0.1), 0.1);
    /// ```
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` (exact for both implementations).
    ///
    /// ```
    /// use constnet::Float;
    /// assert_eq!(0.5f32.as_f64(), 0.5);
    /// // exact: the f32 nearest 0.1 is not the f64 nearest 0.1
    /// assert_eq!(0.1f32.as_f64(), f64::from(0.1f32));
    /// assert_ne!(0.1f32.as_f64(), 0.1);
    /// ```
    fn as_f64(self) -> f64;
    /// Replaces every element `x` of `xs` by `e^x`.
    ///
    /// `f64` calls the standard library's `exp` per element. `f32` uses one branch-free
    /// polynomial that LLVM vectorizes: `e^x = 2^n e^r` with `n` the nearest integer to
    /// `x / ln 2` and `r = x - n ln 2` (Cody-Waite split of `ln 2`), `e^r` by Cephes' degree-6
    /// `expf` polynomial, within 2 units in the last place of `f32::exp` for `x <= 88`. It
    /// returns 0 below -87.33 (where `e^x` leaves the normal range) and passes NaN through.
    ///
    /// ```
    /// use constnet::Float;
    /// let mut xs = [0.0f32, 1.0, -2.5, -100.0, f32::NAN];
    /// f32::exp_in_place(&mut xs);
    /// assert_eq!(xs[0], 1.0);
    /// assert!((xs[1] - 1.0f32.exp()).abs() <= 2.0 * f32::EPSILON * xs[1]);
    /// assert!((xs[2] - (-2.5f32).exp()).abs() <= 2.0 * f32::EPSILON * xs[2]);
    /// assert_eq!(xs[3], 0.0);
    /// assert!(xs[4].is_nan());
    /// ```
    fn exp_in_place(xs: &mut [Self]);

    /// Converts between the two scalar types.
    ///
    /// ```
    /// use constnet::Float;
    /// let x: f32 = 0.1f64.cast();
    /// assert_eq!(x, 0.1f32);
    /// assert_eq!(x.cast::<f64>(), f64::from(0.1f32));
    /// ```
    fn cast<U: Float>(self) -> U {
        U::of_f64(self.as_f64())
    }
}

/// Implements [`Float`] for one scalar type.
macro_rules! impl_float {
    ($ty:ident, of_f64: |$x:ident| $of_f64:expr, exp_in_place: $exp_in_place:path) => {
        impl Float for $ty {
            const EPSILON: Self = $ty::EPSILON;
            const MIN_POSITIVE: Self = $ty::MIN_POSITIVE;
            const NAME: &'static str = stringify!($ty);

            #[inline(always)]
            fn of_f64($x: f64) -> Self {
                $of_f64
            }

            #[inline(always)]
            fn as_f64(self) -> f64 {
                f64::from(self)
            }

            #[inline]
            fn exp_in_place(xs: &mut [Self]) {
                $exp_in_place(xs);
            }
        }
    };
}

impl_float!(f32, of_f64: |x| x as f32, exp_in_place: exp_f32_in_place);
impl_float!(f64, of_f64: |x| x, exp_in_place: exp_f64_in_place);

/// `e^x` in place with the standard library's `exp`.
fn exp_f64_in_place(xs: &mut [f64]) {
    for x in xs {
        *x = x.exp();
    }
}

/// `e^x` in place with the vectorizable polynomial documented at [`Float::exp_in_place`].
fn exp_f32_in_place(xs: &mut [f32]) {
    // Below this, e^x is subnormal or zero: the result is 0.
    const LOWEST: f32 = -87.336_55;
    // Above this, 2^n would overflow the exponent: e^x is clamped to e^88.
    const HIGHEST: f32 = 88.0;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI exact in 9 bits so that n * LN2_HI is exact (Cody-Waite).
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: the float whose mantissa holds integers added to it.
    const ROUNDING: f32 = 12_582_912.0;
    // Cephes' expf polynomial for e^r on [-ln 2 / 2, ln 2 / 2]: 1 + r + r^2 p(r).
    const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
    for x in xs {
        let v = *x;
        // Comparisons are false for NaN, which so flows through the arithmetic below.
        let clamped = if v > HIGHEST { HIGHEST } else { v };
        let clamped = if clamped < LOWEST { LOWEST } else { clamped };
        // n = round(x / ln 2): adding 1.5 * 2^23 rounds to an integer (to nearest, even on
        // ties) and leaves it in the low bits of the mantissa, from where integer lanes shift
        // it into the exponent of 2^n below. Plain adds, so that the loop vectorizes even for
        // a baseline x86-64 target, where `floor` is a library call.
        let shifted = clamped * std::f32::consts::LOG2_E + ROUNDING;
        let n = shifted - ROUNDING;
        let r = clamped - n * LN2_HI - n * LN2_LO;
        let p = P[1..].iter().fold(P[0], |acc, &c| acc * r + c);
        let e_r = p * r * r + r + 1.0;
        // 2^n from its exponent bits, n in [-126, 127] (an `as i32` cast would saturate,
        // which LLVM does not vectorize).
        let n_bits = shifted.to_bits().wrapping_sub(ROUNDING.to_bits());
        let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
        *x = if v < LOWEST { 0.0 } else { e_r * two_n };
    }
}

/// The index of the first NaN or infinite value, found by a pass that vectorizes first
/// (`v * 0` is zero for a finite `v` and NaN otherwise, summed in 16 independent lanes; a
/// plain `position(|v| !v.is_finite())` does not vectorize), so that checking a whole
/// dataset, or the parameters after every step, costs about a read of them.
pub(crate) fn first_non_finite<T: Float>(values: &[T]) -> Option<usize> {
    const LANES: usize = 16;
    let mut sums = [T::ZERO; LANES];
    let whole = values.chunks_exact(LANES);
    let rest = whole.remainder();
    for chunk in whole {
        for k in 0..LANES {
            sums[k] += chunk[k] * T::ZERO;
        }
    }
    if sums.iter().all(|s| *s == T::ZERO) && rest.iter().all(|v| v.is_finite()) {
        None
    } else {
        values.iter().position(|v| !v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_exp_is_within_two_ulps_of_the_exact_value_over_its_range() {
        let mut xs: Vec<f32> = (0..200_001)
            .map(|i| -87.3 + (88.0 + 87.3) * i as f32 / 200_000.0)
            .collect();
        let exact: Vec<f64> = xs.iter().map(|&x| f64::from(x).exp()).collect();
        f32::exp_in_place(&mut xs);
        for (&got, &want) in xs.iter().zip(&exact) {
            let error = (f64::from(got) - want).abs() / want;
            assert!(
                error <= 2.0 * f64::from(f32::EPSILON),
                "{got} vs {want}: {error}"
            );
        }
    }

    #[test]
    fn f32_exp_underflows_to_zero_and_keeps_nan_and_infinities_sane() {
        let mut xs = [
            -88.0f32,
            f32::NEG_INFINITY,
            f32::NAN,
            0.0,
            100.0,
            f32::INFINITY,
        ];
        f32::exp_in_place(&mut xs);
        assert_eq!(xs[0], 0.0);
        assert_eq!(xs[1], 0.0);
        assert!(xs[2].is_nan());
        assert_eq!(xs[3], 1.0);
        // Clamped at e^88, finite: no overflow to infinity in the bit arithmetic.
        assert_eq!(xs[4], xs[5]);
        assert!(xs[4] > 1e38);
    }

    #[test]
    fn f64_exp_is_the_standard_library_one() {
        let mut xs = [-3.0f64, 0.5, 700.0];
        f64::exp_in_place(&mut xs);
        assert_eq!(xs, [(-3.0f64).exp(), 0.5f64.exp(), 700.0f64.exp()]);
    }

    #[test]
    fn first_non_finite_finds_the_first_nan_or_infinity_wherever_it_is() {
        let values: Vec<f32> = (0..37).map(|i| i as f32 - 18.0).collect();
        assert_eq!(first_non_finite(&values), None);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 15, 16, 31, 32, 36] {
                let mut with = values.clone();
                with[at] = bad;
                with[36 - at / 2] = bad;
                assert_eq!(
                    first_non_finite(&with),
                    Some(at.min(36 - at / 2)),
                    "{bad} at {at}"
                );
            }
        }
        assert_eq!(first_non_finite::<f64>(&[]), None);
        assert_eq!(
            first_non_finite(&[f64::MAX, -f64::MAX, f64::MIN_POSITIVE]),
            None
        );
    }
}
