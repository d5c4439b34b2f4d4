//! The matrix products of [constnet](https://docs.rs/constnet), apart from the network
//! code so that they compile alongside nalgebra instead of after it: this crate depends on
//! nothing. Its API is constnet's internal one and has no stability promise; constnet's
//! `kernels` module wraps it for nalgebra matrices.
//!
//! [`Product`] is one call: `C = alpha A B + beta C` (plus an optional bias and an
//! [`Epilogue`]), each operand read through its own strides, so a transpose is a strided
//! view of the same buffer, never a copy. It is run by [`Compiled::matrix_product`], which
//! picks a path from the shape and the CPU:
//!
//! - a BLIS-style packed product: `C (m x n) += A (m x k) B (k x n)` cut into `KC`-deep
//!   slices of `k`; each slice of `B` packed into `NR`-column micro-panels and each `MC`-row
//!   block of `A` into `MR`-row micro-panels, so the micro-kernel streams both from
//!   contiguous memory and keeps an `MR x NR` tile of `C` in registers;
//! - for shallow products (`k` at most 16), columns of `C` as sums of scaled columns of
//!   `A`, and for products with few rows, dot products (`small.rs` has their AVX-512
//!   kernels, and their AVX2 ones for `f32`).
//!
//! On x86-64 every path is compiled three times, for any CPU, with AVX2 + FMA and with
//! AVX-512, and the best one the CPU has is chosen at run time; the micro-kernels (16 x 6
//! for AVX2; for AVX-512 64 x 6 where `m` is whole 64-row tiles, 32 x 12 otherwise; in
//! `f32`) are intrinsics in `scalar.rs`; all update
//! whole tiles of `C` in place, and read an aligned column-major `A` without packing it.
//! The packing buffers are per-thread, reused (no product allocates after the first of its
//! size) and start on cache-line boundaries, so no vector load from them straddles two
//! lines.
//!
//! ```
//! use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
//! // [1 2; 3 4] [5; 6], both column-major.
//! let (a, b, mut c) = ([1.0f32, 3.0, 2.0, 4.0], [5.0f32, 6.0], [0.0f32; 2]);
//! f32::matrix_product(Product {
//!     isa: detect_isa(),
//!     m: 2,
//!     k: 2,
//!     n: 1,
//!     alpha: 1.0,
//!     a: Operand::new(&a, 1, 2),
//!     b: Operand::new(&b, 1, 2),
//!     beta: 0.0,
//!     bias: None,
//!     epilogue: Epilogue::None,
//!     c: OperandMut::new(&mut c, 1, 2),
//! });
//! assert_eq!(c, [17.0, 39.0]);
//! ```

#![allow(unsafe_code)]
#![warn(missing_docs)]

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "x86_64")]
mod one_sample;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod small;

#[cfg(target_arch = "x86_64")]
use scalar::lanes::Avx512;

pub use scalar::{Scalar, TileOut};

/// Depth of one packed slice of `k`.
const KC: usize = 1024;
/// Rows of `A` packed at once: whole tiles of every height.
const MC: usize = 128;
/// Columns of `B` packed at once.
const NC: usize = 1024;

/// The instruction sets a product is compiled for, as const-generic tags: plain Rust for
/// any CPU, AVX2 with FMA, and AVX-512 (F and VL: every AVX-512 CPU but Knights Landing).
/// This one is plain Rust.
///
/// A product run with `PORTABLE` works on any CPU:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, PORTABLE, Product};
/// // [1 2; 3 4] [1; 1], column-major.
/// let (a, b, mut c) = ([1.0f32, 3.0, 2.0, 4.0], [1.0f32, 1.0], [0.0f32; 2]);
/// f32::matrix_product(Product {
///     isa: PORTABLE,
///     m: 2, k: 2, n: 1,
///     alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 2),
///     beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 2),
/// });
/// assert_eq!(c, [3.0, 7.0]);
/// ```
pub const PORTABLE: u8 = 0;
/// AVX2 with FMA (see [`PORTABLE`]).
///
/// The tags are ordered, so every instruction set up to [`detect_isa`]'s can run a product,
/// and they all give the same result:
///
/// ```
/// use constnet_kernels::{AVX2, AVX512, Compiled, Epilogue, Operand, OperandMut, PORTABLE};
/// use constnet_kernels::{Product, detect_isa};
/// assert!(PORTABLE < AVX2 && AVX2 < AVX512);
/// // A 9 x 17 times 17 x 9 product of ones: the packed path.
/// let (a, b) = (vec![1.0f32; 9 * 17], vec![1.0f32; 17 * 9]);
/// for isa in PORTABLE..=detect_isa() {
///     let mut c = vec![0.0f32; 9 * 9];
///     f32::matrix_product(Product {
///         isa, m: 9, k: 17, n: 9,
///         alpha: 1.0, a: Operand::new(&a, 1, 9), b: Operand::new(&b, 1, 17),
///         beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 9),
///     });
///     assert!(c.iter().all(|&v| v == 17.0));
/// }
/// ```
pub const AVX2: u8 = 1;
/// AVX-512 F and VL (see [`PORTABLE`]).
///
/// It is the highest tag, and the only one whose shallow kernel applies the mask
/// epilogues (see [`bits_in_registers`]):
///
/// ```
/// use constnet_kernels::{AVX2, AVX512, bits_in_registers, detect_isa};
/// assert!(detect_isa() <= AVX512);
/// assert!(!bits_in_registers(AVX2, 2, 1));
/// assert_eq!(bits_in_registers(AVX512, 2, 1), cfg!(target_arch = "x86_64"));
/// ```
pub const AVX512: u8 = 2;
/// Not an instruction set: the tag for "whichever [`detect_isa`] finds at each call", for
/// code that does not know which tier it runs in (constnet's `Dense::forward_one_with`
/// takes it, or a tier whose instructions the caller has).
///
/// ```
/// use constnet_kernels::{AVX512, DETECT};
/// assert!(DETECT > AVX512); // above every tier
/// ```
pub const DETECT: u8 = u8::MAX;

#[cfg(feature = "isa-override")]
thread_local! {
    /// An instruction set below the best one to run instead, so that every compiled variant
    /// can be tested on one machine (see [`on_isa`]).
    static FORCED_ISA: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's products compiled for `isa` (one of [`PORTABLE`], [`AVX2`]
/// and [`AVX512`], at most [`detect_isa`]'s): for tests of every compiled variant. Only with
/// the `isa-override` feature, which costs a thread-local read per product.
///
/// Inside `f`, [`detect_isa`] returns `isa`, so a product given `detect_isa()` runs on
/// that variant:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, PORTABLE, Product};
/// use constnet_kernels::{detect_isa, on_isa};
/// let best = detect_isa();
/// let (a, b) = ([1.0f32, 3.0, 2.0, 4.0], [5.0f32, 6.0]);
/// for isa in PORTABLE..=best {
///     let c = on_isa(isa, || {
///         assert_eq!(detect_isa(), isa);
///         let mut c = [0.0f32; 2];
///         f32::matrix_product(Product {
///             isa: detect_isa(), m: 2, k: 2, n: 1,
///             alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 2),
///             beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 2),
///         });
///         c
///     });
///     assert_eq!(c, [17.0, 39.0]);
/// }
/// // Back to the best one afterwards.
/// assert_eq!(detect_isa(), best);
/// ```
#[cfg(feature = "isa-override")]
pub fn on_isa<R>(isa: u8, f: impl FnOnce() -> R) -> R {
    FORCED_ISA.set(Some(isa));
    let result = f();
    FORCED_ISA.set(None);
    result
}

/// The best instruction set this CPU has (detection is cached by the standard library).
///
/// ```
/// use constnet_kernels::{AVX2, AVX512, PORTABLE, detect_isa};
/// let isa = detect_isa();
/// assert!([PORTABLE, AVX2, AVX512].contains(&isa));
/// #[cfg(target_arch = "x86_64")]
/// if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
///     assert!(isa >= AVX2);
/// }
/// ```
#[inline]
pub fn detect_isa() -> u8 {
    #[cfg(feature = "isa-override")]
    if let Some(isa) = FORCED_ISA.get() {
        return isa;
    }
    // A build for AVX-512 knows the answer: a constant, so that the dispatch on it folds
    // away and a network's pass inlines into its caller.
    if cfg!(all(target_feature = "avx512f", target_feature = "avx512vl")) {
        return AVX512;
    }
    // Otherwise one load where `is_x86_feature_detected!` is four (one per feature): a
    // network's single-sample pass asks at every call.
    match DETECTED.load(Ordering::Relaxed) {
        UNKNOWN => cpu_isa(),
        isa => isa,
    }
}

/// [`detect_isa`]'s answer once known (any thread may find it first; all find the same).
static DETECTED: AtomicU8 = AtomicU8::new(UNKNOWN);

/// [`DETECTED`] before the first call.
const UNKNOWN: u8 = u8::MAX;

/// The best tier this CPU has, asked of `std`, and kept in [`DETECTED`].
#[cold]
#[inline(never)]
fn cpu_isa() -> u8 {
    #[cfg(target_arch = "x86_64")]
    let isa = if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        AVX512
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        AVX2
    } else {
        PORTABLE
    };
    #[cfg(not(target_arch = "x86_64"))]
    let isa = PORTABLE;
    DETECTED.store(isa, Ordering::Relaxed);
    isa
}

/// The packed micro-kernel's register tile, `(MR, NR)`, for an instruction set, a scalar
/// size and the product's rows `m`: with AVX-512 (32 registers), four vectors tall and 6
/// columns wide where `m` is whole tiles of that height (W2's 128 rows, W3's 256 and 128),
/// two vectors and 12 columns otherwise (a taller tile would pad more rows, and an `A` of
/// rows not whole tiles is packed rather than read in place); with AVX2 (16 registers), two
/// vectors and 6 columns.
const fn tile_shape(isa: u8, scalar_size: usize, m: usize) -> (usize, usize) {
    let lanes = if isa == AVX512 { 64 } else { 32 } / scalar_size;
    if isa != AVX512 {
        (2 * lanes, 6)
    } else if m.is_multiple_of(4 * lanes) {
        (4 * lanes, 6)
    } else {
        (2 * lanes, 12)
    }
}

/// The gate of [`Compiled::first_layer_grads`]: a ReLU mask's bits or the ReLU's output,
/// `m x n`.
///
/// The same 2 x 2 gate both ways (row 0 fired in column 0, rows 0 and 1 in column 1), with
/// two bytes a column as `f32` needs:
///
/// ```
/// use constnet_kernels::{Compiled, ReluGate};
/// let (w, dz, x) = ([1.0f32, 2.0], [1.0f32, 3.0], [2.0f32, 1.0]);
/// let output = [1.0f32, 0.0, 2.0, 3.0];
/// let bits = [0b01u8, 0, 0b11, 0];
/// for gate in [ReluGate::Output(&output), ReluGate::Bits(&bits, 2)] {
///     let mut dwb = [0.0f32; 4];
///     if f32::first_layer_grads(&w, (1, 2, 2), &dz, &x, 1, gate, (1.0, 0.0, 0.0), &mut dwb) {
///         assert_eq!(dwb, [5.0, 6.0, 4.0, 6.0]);
///     }
/// }
/// ```
#[derive(Clone, Copy)]
pub enum ReluGate<'a, T> {
    /// Bit `i % 8` of byte `j * column_bytes + i / 8` is set where element `(i, j)` fired;
    /// the `usize` is `column_bytes`.
    Bits(&'a [u8], usize),
    /// The ReLU's output, with contiguous columns.
    Output(&'a [T]),
}

/// [`Compiled::first_layer_grads`] for any scalar type.
#[expect(clippy::too_many_arguments, reason = "the operands of two products")]
fn first_layer_grads_any<T: Scalar>(
    w: &[T],
    (k, m, n): (usize, usize, usize),
    dz: &[T],
    x: &[T],
    inputs: usize,
    gate: ReluGate<'_, T>,
    scale: (T, T, T),
    dwb: &mut [T],
) -> bool {
    let isa = detect_isa();
    let applies = cfg!(target_arch = "x86_64")
        && small_kernels::<T>(isa)
        && (1..=2).contains(&inputs)
        && (1..=SHALLOW_K).contains(&k)
        && n > 0
        && w.len() >= k * m
        && dz.len() >= k * n
        && x.len() >= inputs * n
        && dwb.len() >= m * (inputs + 1);
    if !applies {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let m_pad = m.next_multiple_of(SHALLOW_ROWS);
        // `W^T`, `m x k`: row `i` is column `i` of `W`.
        let w_t = Operand {
            data: w,
            rs: k,
            cs: 1,
        };
        T::with_pack_buffers(m_pad * k, 0, |a_pack, _| {
            pack_shallow_a(m, k, &w_t, None, a_pack);
            let args = ((m, k, n, inputs), &*a_pack, m_pad, dz, x, gate, scale);
            // SAFETY: the CPU has the instruction set (`small_kernels` checked it above).
            unsafe {
                if isa == AVX512 {
                    first_layer_grads_avx512(args, dwb);
                } else {
                    first_layer_grads_avx2(args, dwb);
                }
            }
        });
    }
    true
}

/// [`Compiled::affine_grads`] for any scalar type.
fn affine_grads_any<T: Scalar>(
    (inputs, batch, rows): (usize, usize, usize),
    x: Operand<'_, T>,
    dz: Operand<'_, T>,
    beta: T,
    dwb: &mut [T],
) -> bool {
    let isa = detect_isa();
    if !(cfg!(target_arch = "x86_64") && small_kernels::<T>(isa) && (1..=2).contains(&inputs)) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let dz_t = dz.transposed();
        let mut dwb_t = OperandMut {
            data: dwb,
            rs: rows,
            cs: 1,
        };
        let shape = (inputs, batch, rows);
        // SAFETY: the CPU has the instruction set (checked above).
        unsafe {
            if isa == AVX512 {
                by_rows_with_ones_avx512(shape, x, dz_t, beta, &mut dwb_t);
            } else {
                by_rows_with_ones_avx2(shape, x, dz_t, beta, &mut dwb_t);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ((batch, rows), x, dz, beta, dwb);
    true
}

/// Whether the small-product kernels (`small`) run for `T` with `isa`: with AVX-512, and with
/// AVX2 for `f32` (whose 8 lanes make whole bytes of a ReLU's bits; `f64`'s 4 do not).
const fn small_kernels<T>(isa: u8) -> bool {
    isa == AVX512 || (isa == AVX2 && size_of::<T>() == 4)
}

/// The operands of [`small::first_layer_grads`] but `dwb`.
#[cfg(target_arch = "x86_64")]
type FirstLayerArgs<'a, T> = (
    (usize, usize, usize, usize),
    &'a [T],
    usize,
    &'a [T],
    &'a [T],
    ReluGate<'a, T>,
    (T, T, T),
);

/// [`small::first_layer_grads`] with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn first_layer_grads_avx512<T: Scalar>(args: FirstLayerArgs<'_, T>, dwb: &mut [T]) {
    let (shape, a_pack, m_pad, dz, x, gate, scale) = args;
    // SAFETY: the function's features are the kernel's.
    unsafe {
        small::first_layer_grads::<T, Avx512>(shape, a_pack, m_pad, dz, x, gate, scale, dwb);
    }
}

/// [`small::first_layer_grads`] with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn first_layer_grads_avx2<T: Scalar>(args: FirstLayerArgs<'_, T>, dwb: &mut [T]) {
    let (shape, a_pack, m_pad, dz, x, gate, scale) = args;
    // SAFETY: the function's features are the kernel's.
    unsafe {
        small::first_layer_grads::<T, T::Narrow>(shape, a_pack, m_pad, dz, x, gate, scale, dwb);
    }
}

/// [`small::by_rows_with_ones`] with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn by_rows_with_ones_avx512<T: Scalar>(
    shape: (usize, usize, usize),
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    beta: T,
    c: &mut OperandMut<'_, T>,
) {
    // SAFETY: the function's features are the kernel's.
    unsafe { small::by_rows_with_ones::<T, Avx512>(shape, a, b, beta, c) };
}

/// [`small::by_rows_with_ones`] with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn by_rows_with_ones_avx2<T: Scalar>(
    shape: (usize, usize, usize),
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    beta: T,
    c: &mut OperandMut<'_, T>,
) {
    // SAFETY: the function's features are the kernel's.
    unsafe { small::by_rows_with_ones::<T, T::Narrow>(shape, a, b, beta, c) };
}

/// A read-only operand: its elements and strides.
///
/// The strides give any layout over one buffer; here a row-major 2 x 3 matrix:
///
/// ```
/// use constnet_kernels::Operand;
/// // [1 2 3; 4 5 6]
/// let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let a = Operand { data: &data, rs: 3, cs: 1 };
/// let (i, j) = (1, 2);
/// assert_eq!(a.data[i * a.rs + j * a.cs], 6.0);
/// ```
#[derive(Clone, Copy)]
pub struct Operand<'a, T> {
    /// The elements, from the first.
    pub data: &'a [T],
    /// Row stride: element `(i, j)` is at `i * rs + j * cs`.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, T: Scalar> Operand<'a, T> {
    /// The elements of `data` at `i * rs + j * cs`.
    ///
    /// Swapped strides view the transpose of the same buffer, without a copy:
    ///
    /// ```
    /// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
    /// // A = [1 2; 3 4] column-major, used as A^T = [1 3; 2 4].
    /// let (a, b, mut c) = ([1.0f32, 3.0, 2.0, 4.0], [5.0f32, 6.0], [0.0f32; 2]);
    /// let a_t = Operand::new(&a, 2, 1);
    /// assert_eq!((a_t.rs, a_t.cs), (2, 1));
    /// f32::matrix_product(Product {
    ///     isa: detect_isa(), m: 2, k: 2, n: 1,
    ///     alpha: 1.0, a: a_t, b: Operand::new(&b, 1, 2),
    ///     beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 2),
    /// });
    /// assert_eq!(c, [23.0, 34.0]);
    /// ```
    pub fn new(data: &'a [T], rs: usize, cs: usize) -> Self {
        Operand { data, rs, cs }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }

    /// The transpose: the same elements with the strides swapped.
    fn transposed(self) -> Self {
        Operand {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// A written operand: its elements and strides.
///
/// A column stride above the number of rows leaves the elements between columns alone:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
/// // [1 2; 3 4] [1 0; 0 1] into a 2 x 2 C whose columns are 3 apart.
/// let (a, b) = ([1.0f32, 3.0, 2.0, 4.0], [1.0f32, 0.0, 0.0, 1.0]);
/// let mut c = [-1.0f32; 5];
/// f32::matrix_product(Product {
///     isa: detect_isa(), m: 2, k: 2, n: 2,
///     alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 2), beta: 0.0,
///     bias: None, epilogue: Epilogue::None, c: OperandMut { data: &mut c, rs: 1, cs: 3 },
/// });
/// assert_eq!(c, [1.0, 3.0, -1.0, 2.0, 4.0]);
/// ```
pub struct OperandMut<'a, T> {
    /// The elements, from the first.
    pub data: &'a mut [T],
    /// Row stride: element `(i, j)` is at `i * rs + j * cs`.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a, T> OperandMut<'a, T> {
    /// The elements of `data` at `i * rs + j * cs`.
    ///
    /// With `rs = n` and `cs = 1`, a product writes `C` row-major:
    ///
    /// ```
    /// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
    /// // [1 2; 3 4] [5 7; 6 8], both column-major.
    /// let (a, b) = ([1.0f32, 3.0, 2.0, 4.0], [5.0f32, 6.0, 7.0, 8.0]);
    /// let mut c = [0.0f32; 4];
    /// f32::matrix_product(Product {
    ///     isa: detect_isa(), m: 2, k: 2, n: 2,
    ///     alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 2),
    ///     beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 2, 1),
    /// });
    /// assert_eq!(c, [17.0, 23.0, 39.0, 53.0]);
    /// ```
    pub fn new(data: &'a mut [T], rs: usize, cs: usize) -> Self {
        OperandMut { data, rs, cs }
    }

    /// The transpose: the same elements with the strides swapped.
    fn transposed(self) -> Self {
        OperandMut {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// What a product does to each element of `C` as it writes it, after `alpha`, `beta` and
/// the bias: a ReLU fused into the layer before or after it. The shallow kernels of
/// `small.rs` (AVX-512, and AVX2 for `f32`) apply it in registers; every other path in one
/// pass over `C` after the product.
///
/// `C = [1; -1] [3]` with each of the epilogues that run on every path:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
/// let (a, b, gate) = ([1.0f32, -1.0], [3.0f32], [0.0f32, 5.0]);
/// let gated = Epilogue::Gate(Operand::new(&gate, 1, 2));
/// for (epilogue, expected) in
///     [(Epilogue::None, [3.0, -3.0]), (Epilogue::Relu, [3.0, 0.0]), (gated, [0.0, -3.0])]
/// {
///     let mut c = [0.0f32; 2];
///     f32::matrix_product(Product {
///         isa: detect_isa(), m: 2, k: 1, n: 1,
///         alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 1),
///         beta: 0.0, bias: None, epilogue, c: OperandMut::new(&mut c, 1, 2),
///     });
///     assert_eq!(c, expected);
/// }
/// ```
#[derive(Clone, Copy)]
pub enum Epilogue<'a, T> {
    /// `C` as computed.
    None,
    /// `max(0, c)`.
    Relu,
    /// `c` where the matching element of the gate (shaped as `C`) is positive, 0 elsewhere.
    Gate(Operand<'a, T>),
    /// `max(0, c)`, recording where `c` is positive in bit `i % 8` of byte `j * bytes + i /
    /// 8` of the mask (`bytes` per column, given with it). In registers only: see
    /// [`bits_in_registers`].
    ReluKeepingBits(&'a [Cell<u8>], usize),
    /// `c` where its bit of the mask (laid out as above) is set, 0 elsewhere; in registers
    /// only.
    GateBits(&'a [u8], usize),
}

/// Whether a product of depth `k` whose `C` has row stride `c_rs` applies its epilogue in
/// registers (the AVX-512 shallow kernel), which the mask epilogues need: they have no
/// pass over `C` after the product.
///
/// ```
/// use constnet_kernels::{AVX512, Compiled, Epilogue, Operand, OperandMut, PORTABLE, Product};
/// use constnet_kernels::{SHALLOW_K, bits_in_registers, detect_isa};
/// use std::cell::Cell;
/// assert!(!bits_in_registers(PORTABLE, 2, 1));
/// assert!(!bits_in_registers(AVX512, SHALLOW_K + 1, 1));
/// assert!(!bits_in_registers(AVX512, 2, 3));
/// if bits_in_registers(detect_isa(), 1, 1) {
///     // max(0, [1; -1] [3]), keeping where it fired: two bytes a column for `f32`.
///     let (a, b, mut c) = ([1.0f32, -1.0], [3.0f32], [0.0f32; 2]);
///     let mask = [Cell::new(0u8), Cell::new(0)];
///     f32::matrix_product(Product {
///         isa: detect_isa(), m: 2, k: 1, n: 1,
///         alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 1), beta: 0.0,
///         bias: None, epilogue: Epilogue::ReluKeepingBits(&mask, 2),
///         c: OperandMut::new(&mut c, 1, 2),
///     });
///     assert_eq!((c, mask[0].get(), mask[1].get()), ([3.0, 0.0], 0b01, 0));
/// }
/// ```
pub fn bits_in_registers(isa: u8, k: usize, c_rs: usize) -> bool {
    cfg!(target_arch = "x86_64") && isa == AVX512 && k <= SHALLOW_K && c_rs == 1
}

impl<T: Scalar> Epilogue<'_, T> {
    /// The same epilogue for `C^T`.
    fn transposed(self) -> Self {
        match self {
            Epilogue::Gate(gate) => Epilogue::Gate(gate.transposed()),
            other => other,
        }
    }

    /// Applies the epilogue to the `m x n` matrix `c` in place.
    fn apply(&self, m: usize, n: usize, c: &mut OperandMut<'_, T>) {
        match self {
            Epilogue::None => {}
            Epilogue::ReluKeepingBits(..) | Epilogue::GateBits(..) => {
                unreachable!("mask epilogues run in registers only (see `bits_in_registers`)")
            }
            Epilogue::Relu => {
                for j in 0..n {
                    if c.rs == 1 {
                        for v in &mut c.data[j * c.cs..][..m] {
                            *v = if *v > T::ZERO { *v } else { T::ZERO };
                        }
                    } else {
                        for i in 0..m {
                            let v = &mut c.data[i * c.rs + j * c.cs];
                            *v = if *v > T::ZERO { *v } else { T::ZERO };
                        }
                    }
                }
            }
            Epilogue::Gate(gate) => {
                for j in 0..n {
                    if c.rs == 1 && gate.rs == 1 {
                        let out = &mut c.data[j * c.cs..][..m];
                        for (v, &g) in out.iter_mut().zip(&gate.data[j * gate.cs..][..m]) {
                            *v = if g > T::ZERO { *v } else { T::ZERO };
                        }
                    } else {
                        for i in 0..m {
                            let v = &mut c.data[i * c.rs + j * c.cs];
                            *v = if gate.at(i, j) > T::ZERO { *v } else { T::ZERO };
                        }
                    }
                }
            }
        }
    }
}

/// Products whose depth `k` is at most this skip packing: each column of `C` is a sum of
/// `k` scaled columns of `A` (the spiral net's 2- and 3-wide layers).
///
/// Either side of it, the product is the same sum:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, SHALLOW_K};
/// use constnet_kernels::detect_isa;
/// // A row of k ones times a column of k twos: 2 k.
/// for k in [SHALLOW_K, SHALLOW_K + 1] {
///     let (a, b, mut c) = (vec![1.0f32; k], vec![2.0f32; k], [0.0f32]);
///     f32::matrix_product(Product {
///         isa: detect_isa(), m: 1, k, n: 1,
///         alpha: 1.0, a: Operand::new(&a, 1, 1), b: Operand::new(&b, 1, k),
///         beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 1),
///     });
///     assert_eq!(c[0], 2.0 * k as f32);
/// }
/// ```
pub const SHALLOW_K: usize = 16;
/// Products with at most this many rows (or, transposed, columns) of `C` skip packing too:
/// each element is a dot product (the 3- and 10-wide output layers), where the packed path
/// would pad the rows to a whole 16-row micro-panel.
///
/// `FEW` rows take the dot products and one more the packed path, with the same result:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, FEW, Operand, OperandMut, Product, SHALLOW_K};
/// use constnet_kernels::detect_isa;
/// let (k, n) = (SHALLOW_K + 1, FEW + 1);
/// for m in [FEW, FEW + 1] {
///     let (a, b, mut c) = (vec![1.0f32; m * k], vec![2.0f32; k * n], vec![0.0f32; m * n]);
///     f32::matrix_product(Product {
///         isa: detect_isa(), m, k, n,
///         alpha: 1.0, a: Operand::new(&a, 1, m), b: Operand::new(&b, 1, k),
///         beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, m),
///     });
///     assert!(c.iter().all(|&v| v == 2.0 * k as f32));
/// }
/// ```
pub const FEW: usize = 8;

/// The algorithm a product takes, chosen from its shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// BLIS-style packing and the register-tiled micro-kernel.
    Packed,
    /// `k <= SHALLOW_K`: columns of `C` as sums of scaled columns of `A`.
    Shallow,
    /// `m <= FEW`: rows of `C` from dot products or scaled rows of `B`; also `n <= FEW`,
    /// as `C^T = B^T A^T`.
    FewRows,
}

impl Path {
    /// The path of an `m x k` by `k x n` product.
    fn of(m: usize, k: usize, n: usize) -> Self {
        if k <= SHALLOW_K {
            Path::Shallow
        } else if m <= FEW || n <= FEW {
            Path::FewRows
        } else {
            Path::Packed
        }
    }
}

/// One product, `C = alpha A B + beta C` then the bias and the epilogue: what
/// [`Compiled::matrix_product`] runs.
///
/// `C = 2 A B + 10 C` for `A = [1 2; 3 4]`, `B = [1; 1]` and `C = [1; 1]`:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
/// let (a, b, mut c) = ([1.0f32, 3.0, 2.0, 4.0], [1.0f32, 1.0], [1.0f32, 1.0]);
/// f32::matrix_product(Product {
///     isa: detect_isa(),
///     m: 2,
///     k: 2,
///     n: 1,
///     alpha: 2.0,
///     a: Operand::new(&a, 1, 2),
///     b: Operand::new(&b, 1, 2),
///     beta: 10.0,
///     bias: None,
///     epilogue: Epilogue::None,
///     c: OperandMut::new(&mut c, 1, 2),
/// });
/// assert_eq!(c, [16.0, 24.0]);
/// ```
pub struct Product<'a, T> {
    /// The instruction set to run it with: [`detect_isa`]'s, or one below it (one above it
    /// runs as `detect_isa`'s: never with instructions the CPU lacks).
    pub isa: u8,
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `A`, rows of `B`.
    pub k: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// The product's factor.
    pub alpha: T,
    /// `A`, `m x k`.
    pub a: Operand<'a, T>,
    /// `B`, `k x n`.
    pub b: Operand<'a, T>,
    /// `C`'s factor; `C` is not read when it is zero.
    pub beta: T,
    /// Added to every column of `C` (`m` values), with `beta` zero.
    pub bias: Option<&'a [T]>,
    /// Applied to `C` as it is written.
    pub epilogue: Epilogue<'a, T>,
    /// `C`, `m x n`.
    pub c: OperandMut<'a, T>,
}

/// The kernels' entry points for one scalar type, a supertrait of [`Scalar`]. `f32`'s are
/// compiled here, once, in this crate's build (`#[inline(never)]`), so a crate that
/// declares networks in `f32` links them instead of compiling its own copy: the kernels are
/// most of a network's machine code (274 KB of the spiral example's), and editing a network
/// then rebuilt them all. `f64`'s (gradient checks) are instantiated where they are used, so
/// a crate that does not use them does not pay for them.
///
/// The crate example's product, in `f64`:
///
/// ```
/// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
/// let (a, b, mut c) = ([1.0f64, 3.0, 2.0, 4.0], [5.0f64, 6.0], [0.0f64; 2]);
/// f64::matrix_product(Product {
///     isa: detect_isa(), m: 2, k: 2, n: 1,
///     alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 2),
///     beta: 0.0, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 2),
/// });
/// assert_eq!(c, [17.0, 39.0]);
/// ```
pub trait Compiled: Sized {
    /// Runs the product on the path its shape and the CPU call for.
    ///
    /// With a bias and a ReLU: `max(0, [1 2; 3 4] [1; -1] + [-1; 10])`.
    ///
    /// ```
    /// use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};
    /// let (a, b, bias) = ([1.0f32, 3.0, 2.0, 4.0], [1.0f32, -1.0], [-1.0f32, 10.0]);
    /// let mut c = [0.0f32; 2];
    /// f32::matrix_product(Product {
    ///     isa: detect_isa(), m: 2, k: 2, n: 1,
    ///     alpha: 1.0, a: Operand::new(&a, 1, 2), b: Operand::new(&b, 1, 2), beta: 0.0,
    ///     bias: Some(&bias), epilogue: Epilogue::Relu, c: OperandMut::new(&mut c, 1, 2),
    /// });
    /// assert_eq!(c, [0.0, 9.0]);
    /// ```
    fn matrix_product(p: Product<'_, Self>);

    /// The weight and bias gradients of a network's first layer, with one or two inputs `x`
    /// (`inputs x n`), under a ReLU and a dense layer of `k` outputs and weight `w` (`k x m`,
    /// column-major) whose output gradient is `dz` (`k x n`): `[dW | db] = alpha dZ1 [X;
    /// 1]^T + [beta_w dW | beta_b db]` (`scale` is `(alpha, beta_w, beta_b)`) with `dZ1 =
    /// (W^T dZ) ⊙ gate`, in one pass that never stores `dZ1` (AVX-512, or AVX2 for `f32`;
    /// `k` at most 16). Returns `false`, computing nothing, where that kernel does not apply
    /// (another CPU, more inputs, a deeper `dz`, operands too short).
    ///
    /// One input, `W = [1 2]` (`k = 1`, `m = 2`), two samples:
    ///
    /// ```
    /// use constnet_kernels::{Compiled, PORTABLE, ReluGate, detect_isa};
    /// let (w, dz, x) = ([1.0f32, 2.0], [1.0f32, 3.0], [2.0f32, 1.0]);
    /// // The ReLU's output, 2 x 2: element (1, 0) did not fire.
    /// let h = [1.0f32, 0.0, 2.0, 3.0];
    /// let (gate, scale, mut dwb) = (ReluGate::Output(&h), (1.0, 0.0, 0.0), [0.0f32; 4]);
    /// let applied = f32::first_layer_grads(&w, (1, 2, 2), &dz, &x, 1, gate, scale, &mut dwb);
    /// assert_eq!(applied, detect_isa() != PORTABLE); // AVX2 or AVX-512
    /// if applied {
    ///     // dZ1 = [1 3; 0 6]: dW = dZ1 x^T = [5; 6], db = [4; 6].
    ///     assert_eq!(dwb, [5.0, 6.0, 4.0, 6.0]);
    /// }
    /// ```
    #[expect(clippy::too_many_arguments, reason = "the operands of two products")]
    fn first_layer_grads(
        w: &[Self],
        shape: (usize, usize, usize),
        dz: &[Self],
        x: &[Self],
        inputs: usize,
        gate: ReluGate<'_, Self>,
        scale: (Self, Self, Self),
        dwb: &mut [Self],
    ) -> bool;

    /// `[dW | db] = beta [dW | db] + dZ [X^T | 1]` in one pass over `dZ` for an affine
    /// layer with one or two inputs: `x` is `inputs x batch` and `dz` `rows x batch`, both
    /// with contiguous columns, and `dwb` is `rows x (inputs + 1)`, column-major. Returns
    /// `false`, writing nothing, on a CPU without AVX2 (without AVX-512F for `f64`) or for
    /// more than two inputs (the caller then computes the two gradients apart).
    ///
    /// One input and two rows over a batch of two, added to `[dW | db]` (`beta` 1):
    ///
    /// ```
    /// use constnet_kernels::{Compiled, Operand, PORTABLE, detect_isa};
    /// // x = [2 1] and dZ = [1 3; 0 6], column-major.
    /// let (x, dz) = ([2.0f32, 1.0], [1.0f32, 0.0, 3.0, 6.0]);
    /// let (x, dz) = (Operand::new(&x, 1, 1), Operand::new(&dz, 1, 2));
    /// let mut dwb = [1.0f32; 4];
    /// let done = f32::affine_grads((1, 2, 2), x, dz, 1.0, &mut dwb);
    /// assert_eq!(done, detect_isa() != PORTABLE); // AVX2 or AVX-512
    /// if done {
    ///     // dW = dZ x^T = [5; 6] and db = [4; 6], plus the ones.
    ///     assert_eq!(dwb, [6.0, 7.0, 5.0, 7.0]);
    /// } else {
    ///     assert_eq!(dwb, [1.0; 4]);
    /// }
    /// ```
    fn affine_grads(
        shape: (usize, usize, usize),
        x: Operand<'_, Self>,
        dz: Operand<'_, Self>,
        beta: Self,
        dwb: &mut [Self],
    ) -> bool;
}

macro_rules! compiled {
    ($ty:ty, #[$inline:meta]) => {
        impl Compiled for $ty {
            #[$inline]
            fn matrix_product(p: Product<'_, Self>) {
                dispatch(p);
            }

            #[$inline]
            fn first_layer_grads(
                w: &[Self],
                shape: (usize, usize, usize),
                dz: &[Self],
                x: &[Self],
                inputs: usize,
                gate: ReluGate<'_, Self>,
                scale: (Self, Self, Self),
                dwb: &mut [Self],
            ) -> bool {
                first_layer_grads_any(w, shape, dz, x, inputs, gate, scale, dwb)
            }

            #[$inline]
            fn affine_grads(
                shape: (usize, usize, usize),
                x: Operand<'_, Self>,
                dz: Operand<'_, Self>,
                beta: Self,
                dwb: &mut [Self],
            ) -> bool {
                affine_grads_any(shape, x, dz, beta, dwb)
            }
        }
    };
}

compiled!(f32, #[inline(never)]);
compiled!(f64, #[inline]);

/// Runs a product on the path its shape and the CPU call for.
fn dispatch<T: Scalar>(p: Product<'_, T>) {
    let Product {
        isa,
        m,
        k,
        n,
        alpha,
        a,
        b,
        beta,
        bias,
        epilogue,
        c,
    } = p;
    // Never an instruction set the CPU lacks: that would be undefined behaviour.
    let isa = isa.min(detect_isa());
    // The shallow path adds a bias as one more column of `A` (times a row of ones in `B`),
    // the packed one as it writes `C`; the others start from `C` filled with it.
    let (mut beta, mut bias) = (beta, bias);
    // The small kernels' dot products of a few-rows product add it as they write `C` (the spiral's
    // 3-output layer had spent a fifth of its forward filling 300 columns of 3).
    let dots_add_bias = small_kernels::<T>(isa) && m <= FEW && b.rs == 1 && b.cs != 1;
    // The shallow path's bias column is scaled by `alpha` with the rest of `A`, so with
    // another `alpha` it too starts from `C` filled with the bias.
    // The packed product adds it as it writes `C`.
    let path = Path::of(m, k, n);
    let fill_c = if path == Path::Packed {
        false
    } else if k > SHALLOW_K {
        !dots_add_bias
    } else {
        alpha != T::ONE
    };
    if let Some(values) = bias
        && fill_c
    {
        assert!(beta == T::ZERO && values.len() == m);
        for j in 0..n {
            if c.rs == 1 {
                c.data[j * c.cs..][..m].copy_from_slice(values);
            } else {
                for (i, &v) in values.iter().enumerate() {
                    c.data[i * c.rs + j * c.cs] = v;
                }
            }
        }
        (beta, bias) = (T::ONE, None);
    }
    // `C^T = B^T A^T`: a product with few columns is one with few rows, transposed (a
    // transpose is swapped strides).
    let (m, n, a, b, epilogue, mut c) = if path == Path::FewRows && m > FEW {
        let (a_t, b_t) = (b.transposed(), a.transposed());
        (n, m, a_t, b_t, epilogue.transposed(), c.transposed())
    } else {
        (m, n, a, b, epilogue, c)
    };
    let (a_len, b_len) = match path {
        Path::Shallow => {
            let m_pad = m.next_multiple_of(SHALLOW_ROWS);
            (m_pad * (k + 1), m_pad)
        }
        Path::FewRows if b.rs == 1 || b.cs == 1 => (m.next_multiple_of(GROUP) * k, 0),
        Path::FewRows => (m.next_multiple_of(GROUP) * k, k * n),
        Path::Packed => {
            let (mr, nr) = tile_shape(isa, size_of::<T>(), m);
            let kc_max = k.clamp(1, KC);
            let mc_max = m.min(MC).next_multiple_of(mr);
            let nc_max = n.min(NC).next_multiple_of(nr);
            (kc_max * mc_max, kc_max * nc_max)
        }
    };
    let applied = T::with_pack_buffers(a_len, b_len, |a_pack, b_pack| {
        let p = Problem {
            m,
            k,
            n,
            alpha,
            beta,
            bias,
            epilogue,
            a,
            b,
            a_pack,
            b_pack,
        };
        #[cfg(target_arch = "x86_64")]
        {
            if isa == AVX512 {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { run_avx512(path, p, &mut c) };
            }
            if isa == AVX2 {
                // SAFETY: as above.
                return unsafe { run_avx2_fma(path, p, &mut c) };
            }
        }
        run_portable(path, p, &mut c)
    });
    if !applied {
        epilogue.apply(m, n, &mut c);
    }
}

/// One product's operands, sizes and packing buffers.
struct Problem<'a, 'p, T> {
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    beta: T,
    /// Added to every column of `C`, with `beta` zero: only on the shallow path, and in the
    /// few-rows dot products of `small.rs`.
    bias: Option<&'a [T]>,
    /// Applied as `C` is written by the kernels that can (the shallow ones of `small.rs`,
    /// which say so); after the product otherwise.
    epilogue: Epilogue<'a, T>,
    a: Operand<'a, T>,
    b: Operand<'a, T>,
    a_pack: &'p mut [T],
    b_pack: &'p mut [T],
}

/// The product compiled with AVX2 and FMA, so that multiply-adds are fused and 8 (f32) or 4
/// (f64) wide. Returns whether the kernel applied the product's epilogue.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<T: Scalar>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) -> bool {
    if const { small_kernels::<T>(AVX2) } {
        match path {
            Path::Shallow if c.rs == 1 => {
                shallow_avx2(p, c);
                return true;
            }
            Path::FewRows => {
                few_rows_avx2(p, c);
                return false;
            }
            _ => return run::<T, AVX2>(path, p, c),
        }
    }
    run::<T, AVX2>(path, p, c)
}

/// The product compiled with AVX-512F: 16 (f32) or 8 (f64) lanes and 32 vector registers.
/// Returns whether the kernel applied the product's epilogue.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn run_avx512<T: Scalar>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) -> bool {
    match path {
        Path::Shallow if c.rs == 1 => {
            shallow_avx512(p, c);
            return true;
        }
        Path::FewRows => few_rows_avx512(p, c),
        _ => return run::<T, AVX512>(path, p, c),
    }
    false
}

/// [`small::shallow`] with AVX-512F. This and the three below are functions of their own,
/// not inlined into the product's dispatch, so that LLVM optimizes each kernel apart from the
/// packed product (see `benches/README.md` for what one large function cost in build time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline(never)]
fn shallow_avx512<T: Scalar>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    // SAFETY: the function's features are the kernel's.
    unsafe { small::shallow::<T, Avx512>(p, c) };
}

/// [`small::few_rows`] with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline(never)]
fn few_rows_avx512<T: Scalar>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    // SAFETY: the function's features are the kernel's.
    unsafe { small::few_rows::<T, Avx512>(p, c) };
}

/// [`small::shallow`] with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
fn shallow_avx2<T: Scalar>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    // SAFETY: the function's features are the kernel's.
    unsafe { small::shallow::<T, T::Narrow>(p, c) };
}

/// [`small::few_rows`] with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
fn few_rows_avx2<T: Scalar>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    // SAFETY: the function's features are the kernel's.
    unsafe { small::few_rows::<T, T::Narrow>(p, c) };
}

/// The product for any CPU. Returns whether it applied the epilogue.
fn run_portable<T: Scalar>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) -> bool {
    run::<T, PORTABLE>(path, p, c)
}

/// The product on `path`; returns whether it applied the epilogue (the packed product
/// applies a ReLU, and no epilogue at all, as it writes `C`).
#[inline(always)]
fn run<T: Scalar, const ISA: u8>(
    path: Path,
    p: Problem<'_, '_, T>,
    c: &mut OperandMut<'_, T>,
) -> bool {
    let fma = ISA != PORTABLE;
    let applied = path == Path::Packed && matches!(p.epilogue, Epilogue::None | Epilogue::Relu);
    // AVX-512's tile four vectors tall (`tile_shape`), where the rows are whole such tiles.
    let tall = tile_shape(ISA, size_of::<T>(), p.m).0 * size_of::<T>() == 256;
    match (path, ISA == AVX512, size_of::<T>() == 4) {
        (Path::Shallow, ..) if fma => shallow::<T, true>(p, c),
        (Path::Shallow, ..) => shallow::<T, false>(p, c),
        (Path::FewRows, ..) if fma => few_rows::<T, true>(p, c),
        (Path::FewRows, ..) => few_rows::<T, false>(p, c),
        (Path::Packed, true, true) if tall => blocked::<T, 64, 6, ISA>(p, c),
        (Path::Packed, true, true) => blocked::<T, 32, 12, ISA>(p, c),
        (Path::Packed, true, false) if tall => blocked::<T, 32, 6, ISA>(p, c),
        (Path::Packed, true, false) => blocked::<T, 16, 12, ISA>(p, c),
        (Path::Packed, false, true) => blocked::<T, 16, 6, ISA>(p, c),
        (Path::Packed, false, false) => blocked::<T, 8, 6, ISA>(p, c),
    }
    applied
}

/// `x * y + acc`, fused when the caller is compiled with FMA.
#[inline(always)]
fn mul_add<T: Scalar, const FMA: bool>(x: T, y: T, acc: T) -> T {
    if FMA {
        x.fused_mul_add(y, acc)
    } else {
        x * y + acc
    }
}

/// `C[i, j] = alpha * v + beta * C[i, j]`, not reading `C` when `beta` is zero.
#[inline(always)]
fn put<T: Scalar>(c: &mut OperandMut<'_, T>, i: usize, j: usize, v: T, alpha: T, beta: T) {
    let at = i * c.rs + j * c.cs;
    c.data[at] = if beta == T::ZERO {
        alpha * v
    } else {
        alpha * v + beta * c.data[at]
    };
}

/// Rows of `C` in one register block of the shallow product.
const SHALLOW_ROWS: usize = 16;

/// The shallow product (`k <= SHALLOW_K`). `A` is copied column-major with its rows padded
/// to whole blocks (it is at most `16 m` elements); each 16-row block of a column of `C` is
/// summed in registers as `sum_p B[p, j] * A[i.., p]` (with `B` read in place) into a
/// padded column buffer, which is then scaled into `C`.
///
/// The register blocks are only ever indexed with constants, so that LLVM keeps them in
/// vector registers: one dynamic index would put them on the stack.
#[inline(always)]
fn shallow<T: Scalar, const FMA: bool>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias,
        epilogue: _,
        a,
        b,
        a_pack,
        b_pack: column,
    } = p;
    let m_pad = m.next_multiple_of(SHALLOW_ROWS);
    let depth = pack_shallow_a(m, k, &a, bias, a_pack);
    let (a_blocks, _) = a_pack.as_chunks::<SHALLOW_ROWS>();
    let blocks = m_pad / SHALLOW_ROWS;
    let mut b_col = [T::ONE; SHALLOW_K + 1];
    for j in 0..n {
        for (q, v) in b_col.iter_mut().enumerate().take(k) {
            *v = b.at(q, j);
        }
        let (out_blocks, _) = column.as_chunks_mut::<SHALLOW_ROWS>();
        for (r, out) in out_blocks.iter_mut().enumerate() {
            let mut acc = [T::ZERO; SHALLOW_ROWS];
            for (q, &s) in b_col.iter().enumerate().take(depth) {
                for (t, &v) in acc.iter_mut().zip(&a_blocks[q * blocks + r]) {
                    *t = mul_add::<T, FMA>(s, v, *t);
                }
            }
            *out = acc;
        }
        write_column(c, j, &column[..m], alpha, beta);
    }
}

/// Copies the shallow product's `A` (`m x k`) into `a_pack` column-major, each column padded
/// to a whole number of 16-row blocks, followed by `bias` as one more column when there is
/// one (the shallow kernels multiply it by a row of ones). Returns the depth packed: `k`, or
/// `k + 1` with a bias.
fn pack_shallow_a<T: Scalar>(
    m: usize,
    k: usize,
    a: &Operand<'_, T>,
    bias: Option<&[T]>,
    a_pack: &mut [T],
) -> usize {
    let m_pad = m.next_multiple_of(SHALLOW_ROWS);
    for (q, out) in a_pack.chunks_exact_mut(m_pad).enumerate().take(k) {
        let (rows, pad) = out.split_at_mut(m);
        if a.rs == 1 {
            rows.copy_from_slice(&a.data[q * a.cs..][..m]);
        } else {
            for (i, v) in rows.iter_mut().enumerate() {
                *v = a.at(i, q);
            }
        }
        pad.fill(T::ZERO);
    }
    let Some(bias) = bias else { return k };
    let out = &mut a_pack[k * m_pad..][..m_pad];
    out[..m].copy_from_slice(&bias[..m]);
    out[m..].fill(T::ZERO);
    k + 1
}

/// `C[.., j] = alpha * column + beta * C[.., j]`.
#[inline(always)]
fn write_column<T: Scalar>(c: &mut OperandMut<'_, T>, j: usize, column: &[T], alpha: T, beta: T) {
    if c.rs == 1 {
        let out = &mut c.data[j * c.cs..][..column.len()];
        if beta == T::ZERO {
            for (o, &v) in out.iter_mut().zip(column) {
                *o = alpha * v;
            }
        } else {
            for (o, &v) in out.iter_mut().zip(column) {
                *o = alpha * v + beta * *o;
            }
        }
    } else {
        for (i, &v) in column.iter().enumerate() {
            put(c, i, j, v, alpha, beta);
        }
    }
}

/// Rows of `C` computed together in the few-rows product (`A`'s rows are padded to it).
const GROUP: usize = 4;
/// Partial sums of the few-rows product's dot products, and columns per block when it
/// accumulates rows.
const LANES: usize = 16;

/// The few-rows product (`m <= FEW`). `A` is copied row-major with its rows padded to a
/// multiple of 4 (it is at most `8 k` elements). With contiguous rows of `B`, four rows of
/// `C` are computed together as `sum_p A[i, p] * B[p, j..]` over 16-column blocks, indexed
/// with constants only as in [`shallow`]; with contiguous columns, each element is a dot
/// product with 16 partial sums; otherwise `B` is first copied column-major.
#[inline(always)]
fn few_rows<T: Scalar, const FMA: bool>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias: _,
        epilogue: _,
        a,
        b,
        a_pack,
        b_pack,
    } = p;
    pack_few_rows_a(m, k, &a, a_pack);
    if b.cs == 1 && b.rs != 1 {
        let mut j0 = 0;
        while j0 < n {
            let width = (n - j0).min(LANES);
            for i0 in (0..m).step_by(GROUP) {
                let tile = if width == LANES {
                    row_block::<T, FMA, true>(a_pack, k, i0, &b, j0, LANES)
                } else {
                    row_block::<T, FMA, false>(a_pack, k, i0, &b, j0, width)
                };
                for (g, row) in tile.iter().enumerate().take(m - i0) {
                    for (j, &v) in row.iter().enumerate().take(width) {
                        put(c, i0 + g, j0 + j, v, alpha, beta);
                    }
                }
            }
            j0 += LANES;
        }
        return;
    }
    let (columns, stride) = contiguous_columns(k, n, &b, b_pack);
    for j in 0..n {
        let column = &columns[j * stride..][..k];
        for (i, row) in a_pack.chunks_exact(k).take(m).enumerate() {
            put(c, i, j, dot::<T, FMA>(row, column), alpha, beta);
        }
    }
}

/// Copies the few-rows product's `A` (`m x k`) into `a_pack` row-major, zero rows after the
/// last up to the end of `a_pack` (a multiple of `GROUP` rows).
fn pack_few_rows_a<T: Scalar>(m: usize, k: usize, a: &Operand<'_, T>, a_pack: &mut [T]) {
    for (i, out) in a_pack.chunks_exact_mut(k).enumerate() {
        for (q, v) in out.iter_mut().enumerate() {
            *v = if i < m { a.at(i, q) } else { T::ZERO };
        }
    }
}

/// `B`'s `n` columns (each `k` long) as one slice and the stride between them: `B`'s own
/// elements when its columns are contiguous, a column-major copy in `b_pack` otherwise.
fn contiguous_columns<'a, T: Scalar>(
    k: usize,
    n: usize,
    b: &Operand<'a, T>,
    b_pack: &'a mut [T],
) -> (&'a [T], usize) {
    if b.rs == 1 {
        return (b.data, b.cs);
    }
    for (j, out) in b_pack.chunks_exact_mut(k).enumerate().take(n) {
        for (q, v) in out.iter_mut().enumerate() {
            *v = b.at(q, j);
        }
    }
    (&b_pack[..k * n], k)
}

/// `x . y` with 16 independent partial sums, so the loop vectorizes without reassociating.
#[inline(always)]
fn dot<T: Scalar, const FMA: bool>(x: &[T], y: &[T]) -> T {
    let mut partial = [T::ZERO; LANES];
    let (xc, xr) = x.as_chunks::<LANES>();
    let (yc, yr) = y.as_chunks::<LANES>();
    for (xs, ys) in xc.iter().zip(yc) {
        for ((p, &u), &v) in partial.iter_mut().zip(xs).zip(ys) {
            *p = mul_add::<T, FMA>(u, v, *p);
        }
    }
    let mut sum = T::ZERO;
    for (&u, &v) in xr.iter().zip(yr) {
        sum = mul_add::<T, FMA>(u, v, sum);
    }
    partial.iter().fold(sum, |s, &p| s + p)
}

/// `sum_p A[i0 + g, p] * B[p, j0 + j]` for `g < 4` and `j < width <= 16`, reading rows of
/// `B` in place (`FULL`: `width` is 16, no padding copy).
#[inline(always)]
fn row_block<T: Scalar, const FMA: bool, const FULL: bool>(
    a_pack: &[T],
    k: usize,
    i0: usize,
    b: &Operand<'_, T>,
    j0: usize,
    width: usize,
) -> [[T; LANES]; GROUP] {
    let rows: [&[T]; GROUP] = std::array::from_fn(|g| &a_pack[(i0 + g) * k..][..k]);
    let mut tile = [[T::ZERO; LANES]; GROUP];
    for q in 0..k {
        let b_row = &b.data[q * b.rs + j0..][..width];
        let mut padded = [T::ZERO; LANES];
        let b_row: &[T; LANES] = if FULL {
            b_row.try_into().expect("a full block")
        } else {
            padded[..width].copy_from_slice(b_row);
            &padded
        };
        for (sums, row) in tile.iter_mut().zip(&rows) {
            let s = row[q];
            for (t, &v) in sums.iter_mut().zip(b_row) {
                *t = mul_add::<T, FMA>(s, v, *t);
            }
        }
    }
    tile
}

#[inline(always)]
fn blocked<T: Scalar, const MR: usize, const NR: usize, const ISA: u8>(
    p: Problem<'_, '_, T>,
    c: &mut OperandMut<'_, T>,
) {
    // The packing buffers were sized by `tile_shape`: the tile here must be that one (`run`
    // instantiates other shapes in arms it never takes).
    debug_assert_eq!((MR, NR), tile_shape(ISA, size_of::<T>(), p.m));
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias,
        epilogue,
        a,
        b,
        a_pack,
        b_pack,
    } = p;
    // A ReLU is applied as the last slice of `k` is written (any other epilogue by the
    // caller, in a pass over `C`).
    let relu = matches!(epilogue, Epilogue::Relu);
    // With AVX2 or AVX-512, a column-major `A` whose rows fill whole tiles and whose
    // columns start on cache lines is read in place, its micro-panels `MR` contiguous rows
    // (one to four cache lines) at a stride of `a.cs`: forward's `W X` then costs no copy of
    // `W` (the parameter buffer is aligned for this). Misaligned, every load would straddle
    // two lines, which measured slower than packing.
    let a_in_place = ISA != PORTABLE
        && a.rs == 1
        && m % MR == 0
        && c.rs == 1
        && a.data.as_ptr().addr().is_multiple_of(64)
        && (a.cs * size_of::<T>()).is_multiple_of(64);
    // With AVX2 or AVX-512, a column-major `B` (forward's batch `X`, backward's `dZ` in
    // `dX = W^T dZ`) is read in place too, `NR` columns at a time, each a sequential stream:
    // packing it cost a sixth of W2's batched forward. Only a last panel of fewer than `NR` columns is
    // packed, zero-padded, at the start of `b_pack`. (A column stride of 0, columns that
    // alias, is packed.)
    let b_in_place = ISA != PORTABLE && b.rs == 1 && b.cs != 0;
    let mut jc = 0;
    while jc < n {
        let nc = (n - jc).min(NC);
        let mut pc = 0;
        loop {
            let kc = (k - pc).min(KC);
            // The first slice of k applies beta and adds the bias; the others accumulate;
            // the last applies the ReLU.
            let beta = if pc == 0 { beta } else { T::ONE };
            let bias = if pc == 0 { bias } else { None };
            let relu = relu && pc + kc == k;
            let whole = nc / NR * NR;
            if !b_in_place {
                pack_b::<T, NR, ISA>(&b, pc, kc, jc, nc, b_pack);
            } else if whole < nc {
                pack_b::<T, NR, ISA>(&b, pc, kc, jc + whole, nc - whole, b_pack);
            }
            let mut ic = 0;
            while ic < m {
                let mc = (m - ic).min(MC);
                if !a_in_place {
                    pack_a::<T, MR, ISA>(&a, ic, mc, pc, kc, a_pack);
                }
                let mut jr = 0;
                while jr < nc {
                    let cols = (nc - jr).min(NR);
                    let (b_panel, b_steps) = if !b_in_place {
                        (&b_pack[jr * kc..][..kc * NR], (NR, 1))
                    } else if cols == NR {
                        (&b.data[(jc + jr) * b.cs + pc..], (1, b.cs))
                    } else {
                        (&b_pack[..kc * NR], (NR, 1))
                    };
                    let mut ir = 0;
                    while ir < mc {
                        let (a_panel, lda, rows) = if a_in_place {
                            (&a.data[(ic + ir) + pc * a.cs..], a.cs, MR)
                        } else {
                            (&a_pack[ir * kc..][..kc * MR], MR, (mc - ir).min(MR))
                        };
                        #[cfg(target_arch = "x86_64")]
                        if ISA != PORTABLE && rows == MR && cols == NR && c.rs == 1 {
                            let at = (ic + ir) + (jc + jr) * c.cs;
                            assert!(at + (NR - 1) * c.cs + MR <= c.data.len());
                            let out = TileOut {
                                bias: bias.map(|bias| &bias[ic + ir..]),
                                relu,
                                ..TileOut::new(
                                    c.data.as_mut_ptr().wrapping_add(at),
                                    c.cs,
                                    alpha,
                                    beta,
                                )
                            };
                            // SAFETY: ISA is AVX2 or AVX512 only inside the functions that
                            // enable it; the assertion keeps the tile's NR columns of MR rows
                            // inside `c`, and the kernel checks its reads.
                            unsafe {
                                vector_kernel::<T, MR, NR, ISA>(
                                    NR,
                                    kc,
                                    (a_panel, lda),
                                    (b_panel, b_steps),
                                    out,
                                );
                            }
                            ir += MR;
                            continue;
                        }
                        // A tile at the edge of `C` (or any tile without AVX2): computed
                        // whole (the panels are zero-padded) and stored in part.
                        let tile = edge_tile::<T, MR, NR, ISA>(
                            kc,
                            cols,
                            (a_panel, lda),
                            (b_panel, b_steps),
                        );
                        store(
                            c,
                            (ic + ir, jc + jr),
                            (rows, cols),
                            &tile,
                            (alpha, beta),
                            (bias, relu),
                        );
                        ir += MR;
                    }
                    jr += NR;
                }
                ic += MC;
            }
            pc += KC;
            if pc >= k {
                break;
            }
        }
        jc += NC;
    }
}

/// Packs `B[pc.., jc..]` (`kc x nc`) into `NR`-column micro-panels, row by row, zero-padded.
#[inline(always)]
fn pack_b<T: Scalar, const NR: usize, const ISA: u8>(
    b: &Operand<'_, T>,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    out: &mut [T],
) {
    // Rows of B are contiguous (a transposed view): its whole panels first.
    let whole = if b.cs == 1 { nc / NR } else { 0 };
    pack_b_rows::<T, NR>(b, (pc, kc), (jc, whole), out);
    for (panel, j0) in (0..nc).step_by(NR).enumerate().skip(whole) {
        let out = &mut out[panel * kc * NR..][..kc * NR];
        let cols = (nc - j0).min(NR);
        if cols == NR && b.rs == 1 {
            // Columns of B are contiguous (the batch of a forward product): transpose 8 x 8
            // blocks in registers where the CPU has AVX2, with the ragged end of `kc`
            // gathered one element from each of NR columns.
            let mut p0 = 0;
            #[cfg(target_arch = "x86_64")]
            if ISA != PORTABLE && NR == 8 {
                let first = (jc + j0) * b.cs + pc;
                // The last block's last element, column jc + j0 + 7 at depth pc + p0 + 7.
                while p0 + 8 <= kc {
                    assert!(first + 7 * b.cs + p0 + 8 <= b.data.len());
                    // SAFETY: AVX2 is enabled in the functions ISA is set in; the assertion
                    // keeps the eight columns' eight elements inside `b`, and `out` holds
                    // `kc` rows of NR = 8.
                    unsafe {
                        T::transpose_8x8_avx2(
                            b.data.as_ptr().add(first + p0),
                            b.cs,
                            out.as_mut_ptr().add(p0 * NR),
                            NR,
                        );
                    }
                    p0 += 8;
                }
            }
            let columns: [&[T]; NR] = std::array::from_fn(|j| {
                let start = (jc + j0 + j) * b.cs + pc;
                &b.data[start..start + kc]
            });
            for (p, row) in out.chunks_exact_mut(NR).enumerate().skip(p0) {
                for (v, column) in row.iter_mut().zip(&columns) {
                    *v = column[p];
                }
            }
        } else {
            for (p, row) in out.chunks_exact_mut(NR).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = if j < cols {
                        b.at(pc + p, jc + j0 + j)
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

/// The first `panels` whole `NR`-column micro-panels of `B[pc.., jc..]` (`kc` rows) for a
/// `B` whose rows are contiguous (a transposed view, `X^T` in `dW = dZ X^T`). Panels are
/// packed two at a time, so that each row's `2 NR` elements read (48 bytes of `f32` for NR
/// = 6) are read once. One panel at a time read most lines twice, from L2 (the panels of a
/// 784-wide `X^T` do not fit in L1); row by row across all the panels wrote to lines
/// `kc NR` elements apart, which fall in a few sets of L1. A function of its own, with the
/// bounds checked once: inlined into the product, its loop kept its counters on the stack
/// (in W3's `dW1`, the packing and the product's own loops took 14.6% of the product's time
/// inlined, 9.6% with this function apart).
#[inline(never)]
fn pack_b_rows<T: Scalar, const NR: usize>(
    b: &Operand<'_, T>,
    (pc, kc): (usize, usize),
    (jc, panels): (usize, usize),
    out: &mut [T],
) {
    if panels == 0 || kc == 0 {
        return;
    }
    assert!((pc + kc - 1) * b.rs + jc + panels * NR <= b.data.len());
    assert!(out.len() >= panels * kc * NR);
    let (src, dst) = (b.data.as_ptr(), out.as_mut_ptr());
    for pair in (0..panels).step_by(2) {
        let both = pair + 1 < panels;
        // SAFETY (every pointer below): the assertions keep rows `pc..pc + kc`, columns `jc..jc
        // + panels NR` inside `b`, and `panels` panels of `kc NR` inside `out`.
        unsafe {
            let mut from = src.add(pc * b.rs + jc + pair * NR);
            let (first, second) = (dst.add(pair * kc * NR), dst.add((pair + 1) * kc * NR));
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(from, first.add(p * NR), NR);
                if both {
                    std::ptr::copy_nonoverlapping(from.add(NR), second.add(p * NR), NR);
                }
                if p + 1 < kc {
                    from = from.add(b.rs);
                }
            }
        }
    }
}

/// Packs `A[ic.., pc..]` (`mc x kc`) into `MR`-row micro-panels, column by column, zero-padded.
#[inline(always)]
fn pack_a<T: Scalar, const MR: usize, const ISA: u8>(
    a: &Operand<'_, T>,
    ic: usize,
    mc: usize,
    pc: usize,
    kc: usize,
    out: &mut [T],
) {
    for (panel, i0) in (0..mc).step_by(MR).enumerate() {
        let out = &mut out[panel * kc * MR..][..kc * MR];
        let rows = (mc - i0).min(MR);
        if a.rs == 1 && rows == MR {
            for (p, column) in out.chunks_exact_mut(MR).enumerate() {
                let start = (ic + i0) + (pc + p) * a.cs;
                column.copy_from_slice(&a.data[start..start + MR]);
            }
        } else if a.cs == 1 && rows == MR {
            // Rows of A are contiguous (a transposed view, `W^T` in backward): transpose
            // MR x 8 blocks, reading eight elements of each row at a time.
            const STEP: usize = 8;
            let rows: [&[T]; MR] =
                std::array::from_fn(|i| &a.data[(ic + i0 + i) * a.rs + pc..][..kc]);
            let mut p0 = 0;
            #[cfg(target_arch = "x86_64")]
            if ISA != PORTABLE && MR.is_multiple_of(8) {
                let first = (ic + i0) * a.rs + pc;
                assert!(out.len() >= kc * MR);
                while p0 + 8 <= kc {
                    // The last block's last element: row MR - 1 at depth p0 + 7.
                    assert!(first + (MR - 1) * a.rs + p0 + 8 <= a.data.len());
                    for i in (0..MR).step_by(8) {
                        // SAFETY: AVX2 is enabled in the functions ISA is set in; the
                        // assertions keep the block's rows inside `a` and `out`.
                        unsafe {
                            T::transpose_8x8_avx2(
                                a.data.as_ptr().add(first + i * a.rs + p0),
                                a.rs,
                                out.as_mut_ptr().add(p0 * MR + i),
                                MR,
                            );
                        }
                    }
                    p0 += 8;
                }
            }
            let (blocks, _) = out.as_chunks_mut::<MR>();
            while p0 + STEP <= kc {
                for (i, row) in rows.iter().enumerate() {
                    let chunk: &[T; STEP] = row[p0..p0 + STEP].try_into().expect("eight elements");
                    for (q, &v) in chunk.iter().enumerate() {
                        blocks[p0 + q][i] = v;
                    }
                }
                p0 += STEP;
            }
            for p in p0..kc {
                for (i, row) in rows.iter().enumerate() {
                    blocks[p][i] = row[p];
                }
            }
        } else {
            for (p, column) in out.chunks_exact_mut(MR).enumerate() {
                for (i, v) in column.iter_mut().enumerate() {
                    *v = if i < rows {
                        a.at(ic + i0 + i, pc + p)
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

/// `C = alpha * A_panel B_panel + beta * C` for the `MR x NR` tile of `C` at `c` (column `j`
/// at `c + j * ldc`), with the micro-kernel of `ISA`, AVX2 + FMA or AVX-512. `B_panel` is a
/// packed panel or `NR` columns of `B` read in place: its element `(p, j)` is at
/// `p * b_steps.0 + j * b_steps.1`. With AVX-512, only the first `cols` columns (rounded up
/// to 4 or 8) are computed and written.
///
/// # Safety
/// `ISA` must be one the CPU supports (it is set only inside the functions that enable it),
/// and `c` must point at `MR` writable elements at each of `c`, `c + ldc`, ...,
/// `c + (NR - 1) ldc`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn vector_kernel<T: Scalar, const MR: usize, const NR: usize, const ISA: u8>(
    cols: usize,
    kc: usize,
    (a, lda): (&[T], usize),
    (b, b_steps): (&[T], (usize, usize)),
    tile: TileOut<'_, T>,
) {
    let tall = MR * size_of::<T>() == 256;
    assert!(
        ISA != AVX512 || (MR * size_of::<T>(), NR) == (if tall { (256, 6) } else { (128, 12) })
    );
    // SAFETY: the caller's contract, and the tile is the kernel's own (the assertion).
    unsafe {
        if ISA == AVX512 && tall {
            // The last few columns of `C` take a narrower kernel, on the same panels.
            match cols {
                ..=2 => T::micro_kernel_avx512::<4, 2>(kc, a, lda, b, b_steps, tile),
                3..=4 => T::micro_kernel_avx512::<4, 4>(kc, a, lda, b, b_steps, tile),
                _ => T::micro_kernel_avx512::<4, 6>(kc, a, lda, b, b_steps, tile),
            }
        } else if ISA == AVX512 {
            match cols {
                ..=4 => T::micro_kernel_avx512::<2, 4>(kc, a, lda, b, b_steps, tile),
                5..=8 => T::micro_kernel_avx512::<2, 8>(kc, a, lda, b, b_steps, tile),
                _ => T::micro_kernel_avx512::<2, 12>(kc, a, lda, b, b_steps, tile),
            }
        } else {
            T::micro_kernel_avx2_fma(kc, a, lda, b, b_steps, tile);
        }
    }
}

/// The `MR x NR` tile of `A_panel * B_panel` over `kc` steps, of which the first `cols`
/// columns are wanted: the vector kernels' with AVX2 or AVX-512, into a local tile, or
/// [`micro_kernel`]'s.
#[inline(always)]
fn edge_tile<T: Scalar, const MR: usize, const NR: usize, const ISA: u8>(
    kc: usize,
    cols: usize,
    (a_panel, lda): (&[T], usize),
    (b_panel, b_steps): (&[T], (usize, usize)),
) -> [[T; MR]; NR] {
    #[cfg(target_arch = "x86_64")]
    if ISA != PORTABLE {
        let mut tile = [[T::ZERO; MR]; NR];
        let out = TileOut::new(tile.as_flattened_mut().as_mut_ptr(), MR, T::ONE, T::ZERO);
        // SAFETY: ISA is AVX2 or AVX512 only inside the functions that enable it; the
        // local tile holds NR columns of MR, and the kernel checks its reads.
        unsafe {
            vector_kernel::<T, MR, NR, ISA>(cols, kc, (a_panel, lda), (b_panel, b_steps), out)
        };
        return tile;
    }
    let _ = (cols, lda, b_steps);
    micro_kernel::<T, MR, NR>(kc, a_panel, b_panel)
}

/// The `MR x NR` register tile of `A_panel * B_panel` over `kc` steps with plain
/// multiply-adds: the kernel of CPUs without AVX2.
#[inline(always)]
fn micro_kernel<T: Scalar, const MR: usize, const NR: usize>(
    kc: usize,
    a_panel: &[T],
    b_panel: &[T],
) -> [[T; MR]; NR] {
    let mut acc = [[T::ZERO; MR]; NR];
    for (a, b) in a_panel
        .chunks_exact(MR)
        .zip(b_panel.chunks_exact(NR))
        .take(kc)
    {
        for (column, &bj) in acc.iter_mut().zip(b) {
            for (c, &ai) in column.iter_mut().zip(a) {
                *c += ai * bj;
            }
        }
    }
    acc
}

/// `C[i0.., j0..] = alpha * tile + beta * C (+ bias[i0..], then max(0, .) where relu)` on the
/// valid `rows x cols` corner of the tile.
#[inline(always)]
fn store<T: Scalar, const MR: usize, const NR: usize>(
    c: &mut OperandMut<'_, T>,
    (i0, j0): (usize, usize),
    (rows, cols): (usize, usize),
    tile: &[[T; MR]; NR],
    (alpha, beta): (T, T),
    (bias, relu): (Option<&[T]>, bool),
) {
    let finish = |i: usize, v: T| {
        let v = match bias {
            Some(bias) => v + bias[i0 + i],
            None => v,
        };
        // NaN to 0, as `Epilogue::Relu` and the kernels' `max` do.
        if !relu || v > T::ZERO { v } else { T::ZERO }
    };
    if c.rs == 1 && rows == MR {
        for (j, column) in tile.iter().enumerate().take(cols) {
            let start = i0 + (j0 + j) * c.cs;
            let out = &mut c.data[start..start + MR];
            if beta == T::ZERO {
                for (i, (o, &v)) in out.iter_mut().zip(column).enumerate() {
                    *o = finish(i, alpha * v);
                }
            } else {
                for (i, (o, &v)) in out.iter_mut().zip(column).enumerate() {
                    *o = finish(i, alpha * v + beta * *o);
                }
            }
        }
        return;
    }
    for (j, column) in tile.iter().enumerate().take(cols) {
        for (i, &v) in column.iter().enumerate().take(rows) {
            put(c, i0 + i, j0 + j, v, alpha, beta);
            if bias.is_some() || relu {
                let at = (i0 + i) * c.rs + (j0 + j) * c.cs;
                c.data[at] = finish(i, c.data[at]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `B` whose columns alias (column stride 0: one column repeated), on every
    /// instruction set: it is packed, not read in place, where the AVX2 kernel reads a
    /// column-major `B` in place.
    #[test]
    fn a_b_whose_columns_alias_is_read_as_its_one_column() {
        let (m, k, n) = (32, 40, 13);
        let a: Vec<f64> = (0..m * k).map(|v| ((v * 7) % 5) as f64 - 2.0).collect();
        let column: Vec<f64> = (0..k).map(|v| v as f64 - 3.0).collect();
        let expected: Vec<f64> = (0..m * n)
            .map(|e| (0..k).map(|q| a[e % m + q * m] * column[q]).sum())
            .collect();
        let b = Operand::new(&column, 1, 0);
        for (isa, c) in on_every_isa((m, k, n), 1.0, &a, b, None, Epilogue::None) {
            assert_eq!(c, expected, "isa {isa}");
        }
    }

    /// `C = alpha A B (+ bias, then the epilogue)` with `A` column-major `m x k`, on every
    /// instruction set this CPU has: each set and its `C`.
    fn on_every_isa(
        (m, k, n): (usize, usize, usize),
        alpha: f64,
        a: &[f64],
        b: Operand<'_, f64>,
        bias: Option<&[f64]>,
        epilogue: Epilogue<'_, f64>,
    ) -> Vec<(u8, Vec<f64>)> {
        [PORTABLE, AVX2, AVX512]
            .into_iter()
            .filter(|&i| i <= detect_isa())
            .map(|isa| {
                let mut c = vec![f64::NAN; m * n];
                f64::matrix_product(Product {
                    isa,
                    m,
                    k,
                    n,
                    alpha,
                    a: Operand::new(a, 1, m),
                    b,
                    beta: 0.0,
                    bias,
                    epilogue,
                    c: OperandMut::new(&mut c, 1, m),
                });
                (isa, c)
            })
            .collect()
    }

    /// `C = alpha A B + bias` (then the ReLU) on every path: shallow, few rows (dot
    /// products), packed, and every instruction set this CPU has, with `alpha` other than
    /// 1 (the shallow path once scaled the bias too), against the sums written out.
    #[test]
    fn the_bias_is_added_after_alpha_scales_the_product() {
        for (m, k, n) in [(3, 2, 5), (17, 16, 3), (2, 40, 33), (40, 17, 9), (5, 3, 1)] {
            let a: Vec<f64> = (0..m * k).map(|v| ((v * 7) % 5) as f64 - 2.0).collect();
            let b: Vec<f64> = (0..k * n).map(|v| ((v * 3) % 4) as f64 - 1.5).collect();
            let bias: Vec<f64> = (0..m).map(|i| (i % 3) as f64 * 4.0 - 4.0).collect();
            for alpha in [1.0, 2.0, -0.5] {
                for relu in [false, true] {
                    let expected: Vec<f64> = (0..m * n)
                        .map(|e| {
                            let (i, j) = (e % m, e / m);
                            let dot: f64 = (0..k).map(|q| a[i + q * m] * b[q + j * k]).sum();
                            let v = alpha * dot + bias[i];
                            if relu { v.max(0.0) } else { v }
                        })
                        .collect();
                    let epilogue = if relu { Epilogue::Relu } else { Epilogue::None };
                    let b = Operand::new(&b, 1, k);
                    for (isa, c) in on_every_isa((m, k, n), alpha, &a, b, Some(&bias), epilogue) {
                        assert_eq!(
                            c, expected,
                            "{m}x{k}x{n}, alpha {alpha}, relu {relu}, isa {isa}"
                        );
                    }
                }
            }
        }
    }
}
