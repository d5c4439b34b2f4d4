//! Maxout (Goodfellow et al. 2013): `y_o = max_k (W_k x + b_k)_o` over `K` pieces.
//!
//! The `K` affine pieces are stored as one `(K * O) x I` weight matrix, column-major like
//! [`Dense`](crate::layers::Dense)'s, whose row `k * O + o` is piece `k` of output `o`, then
//! the `K * O` biases. Training computes all pieces as one matrix product `Z = W X + b`, keeps
//! `Z`'s winners, and backward routes each output's gradient to its winning piece only (the
//! max gate): `dZ` is zero except at the winners, then `dW = dZ X^T`, `db = sum of dZ's
//! columns`, `dX = W^T dZ` as for a dense layer.

use nalgebra::{Const, Dyn, MatrixView, MatrixViewMut, SVector, U1};
use rand::RngCore;

use super::dense::{Cols, ColsMut, Gate, affine_backward, weight_any};
use crate::batch::{BatchView, BatchViewMut};
use crate::init::Init;
use crate::kernels::affine;
use crate::layer::{Kinks, Layer, Storage, TensorKind, TensorSpec};
use crate::scalar::Float;

/// A maxout layer from `I` to `O` features with `K` pieces per output (`K >= 1`; `K = 2`
/// is the paper's usual choice and contains ReLU as a special case).
///
/// In `network!`: `mx: Maxout<IN, OUT, K>`, or `Maxout<IN, OUT>` for two pieces. Its
/// parameters are `weight` `[K * OUT, IN]` and `bias` `[K * OUT]`, row `k * OUT + o` being
/// piece `k` of output `o`.
///
/// ```
/// use constnet::{Layer, layers::Maxout};
/// use nalgebra::SVector;
/// // One input, one output, two pieces: max(2x + 0, -x + 1).
/// let p = [2.0f32, -1.0, 0.0, 1.0];
/// let mx = Maxout::<1, 1, 2>::default();
/// assert_eq!(mx.forward_one(&p, &[], &SVector::from([3.0]))[0], 6.0);
/// assert_eq!(mx.forward_one(&p, &[], &SVector::from([-1.0]))[0], 2.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Maxout<const I: usize, const O: usize, const K: usize> {
    /// How the weights of every piece are initialized.
    pub init: Init,
    /// The value every bias starts at.
    pub bias: f64,
}

impl<const I: usize, const O: usize, const K: usize> Default for Maxout<I, O, K> {
    /// Calibrated initialization `N(0, 1) / sqrt(fan_in)`: with two pieces, the maximum of
    /// two independent zero-mean pieces has the same second moment as one, so the output's
    /// scale matches the input's without He's factor of 2.
    fn default() -> Self {
        Maxout::new(Init::Calibrated)
    }
}

impl<const I: usize, const O: usize, const K: usize> Maxout<I, O, K> {
    /// A maxout layer whose weights are drawn with `init` and whose biases start at zero.
    ///
    /// ```
    /// let m = constnet::layers::Maxout::<4, 2, 3>::new(constnet::Init::He);
    /// assert_eq!(m.init, constnet::Init::He);
    /// ```
    pub const fn new(init: Init) -> Self {
        Maxout { init, bias: 0.0 }
    }

    /// The same layer with every bias initialized to `bias` instead.
    ///
    /// ```
    /// let m = constnet::layers::Maxout::<4, 2, 3>::default().with_bias(0.5);
    /// assert_eq!(m.bias, 0.5);
    /// ```
    #[must_use]
    pub const fn with_bias(self, bias: f64) -> Self {
        Maxout { bias, ..self }
    }

    /// Piece `k`'s `O x I` weight block: rows `k * O ..` of the column-major `(K * O) x I`
    /// matrix, whose columns are `K * O` apart.
    fn piece<T: Float>(p: &[T], k: usize) -> MatrixView<'_, T, Const<O>, Const<I>, U1, Dyn> {
        MatrixView::from_slice_with_strides_generic(
            &p[k * O..K * O * I],
            Const::<O>,
            Const::<I>,
            U1,
            Dyn(K * O),
        )
    }

    /// One sample's output, piece by piece on the stack; `on_compare` sees whether each piece
    /// after the first beat the best so far.
    fn max_of_pieces<T: Float, S>(
        p: &[T],
        x: &nalgebra::Matrix<T, Const<I>, U1, S>,
        mut on_compare: impl FnMut(bool),
    ) -> SVector<T, O>
    where
        S: nalgebra::Storage<T, Const<I>, U1>,
    {
        let bias = &p[K * O * I..];
        let mut best = SVector::<T, O>::from_column_slice(&bias[..O]);
        best.gemv(T::ONE, &Self::piece(p, 0), x, T::ONE);
        for k in 1..K {
            let mut z = SVector::<T, O>::from_column_slice(&bias[k * O..(k + 1) * O]);
            z.gemv(T::ONE, &Self::piece(p, k), x, T::ONE);
            for (b, &v) in best.iter_mut().zip(z.iter()) {
                let wins = v > *b;
                on_compare(wins);
                if wins {
                    *b = v;
                }
            }
        }
        best
    }
}

/// What a [`Maxout`] layer's training forward keeps: every piece's value and each output's
/// winning piece, and the scratch for backward's `dZ`.
///
/// [`Layer::new_cache`] makes one; backward sends each output's gradient to the piece that
/// won it in the training forward.
///
/// ```
/// use constnet::{Batch, Layer, layers::{Maxout, MaxoutCache}};
/// // One input, one output, two pieces: max(2x, -x + 1).
/// let (mx, p) = (Maxout::<1, 1, 2>::default(), [2.0f64, -1.0, 0.0, 1.0]);
/// let mut cache: MaxoutCache<f64> = mx.new_cache(2);
/// let x = Batch::<f64, 1>::from_column_slice(&[3.0, -1.0]); // piece 0 wins, then piece 1
/// let mut y = Batch::<f64, 1>::zeros(2);
/// mx.forward_train(&p, &mut [], x.columns(0, 2), y.columns_mut(0, 2), &mut cache);
/// assert_eq!(y.as_slice(), &[6.0, 2.0]);
/// let (dy, mut dp) = (Batch::<f64, 1>::from_column_slice(&[1.0, 1.0]), [0.0; 4]);
/// mx.backward(&p, x.columns(0, 2), y.columns(0, 2), &mut cache, dy.columns(0, 2), None, &mut dp);
/// assert_eq!(dp, [3.0, -1.0, 1.0, 1.0]); // each piece's weight gets its winner's x
/// ```
#[derive(Debug, Clone)]
pub struct MaxoutCache<T> {
    /// `Z = W X + b`, `K * O` rows per sample.
    z: Vec<T>,
    /// The winning piece of each output of each sample.
    winners: Vec<u32>,
    /// `dZ`, written by backward.
    dz: Vec<T>,
}

impl<const I: usize, const O: usize, const K: usize> Maxout<I, O, K> {
    /// Backward through the winning pieces: `dZ` is each output's gradient at its winner
    /// and zero elsewhere, then the affine backward of `Z = W X + b`, which adds into `dp`
    /// when `accumulate` and overwrites it otherwise.
    #[expect(
        clippy::too_many_arguments,
        reason = "backward's arguments and the accumulate switch"
    )]
    fn backward_pieces<T: Float>(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        cache: &mut MaxoutCache<T>,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dp: &mut [T],
        accumulate: bool,
    ) {
        let (rows, batch) = (K * O, dy.ncols());
        // dZ: each output's gradient at its winning piece, zero elsewhere.
        let dz = &mut cache.dz[..rows * batch];
        dz.fill(T::ZERO);
        let winners = cache.winners[..O * batch].chunks_exact(O);
        for ((dzc, dyc), wc) in dz
            .chunks_exact_mut(rows)
            .zip(dy.as_slice().chunks_exact(O))
            .zip(winners)
        {
            for o in 0..O {
                dzc[wc[o] as usize * O + o] = dyc[o];
            }
        }
        let dz = Cols::new(&cache.dz[..rows * batch], rows);
        let mut dx = dx;
        let dx = dx.as_mut().map(|dx| (ColsMut::of(dx), Gate::None));
        affine_backward(p, Cols::of(&x), dz, dx, dp, accumulate);
    }
}

impl<T: Float, const I: usize, const O: usize, const K: usize> Layer<T, I, O> for Maxout<I, O, K> {
    const PARAMS: usize = K * O * I + K * O;
    const TENSORS: &'static [TensorSpec] = &[
        TensorSpec {
            name: "weight",
            shape: &[K * O, I],
            offset: 0,
            storage: Storage::ColumnMajor,
            kind: TensorKind::Weight,
        },
        TensorSpec {
            name: "bias",
            shape: &[K * O],
            offset: K * O * I,
            storage: Storage::RowMajor,
            kind: TensorKind::Bias,
        },
    ];
    type Cache = MaxoutCache<T>;

    fn kind(&self) -> &'static str {
        "Maxout"
    }

    fn init(&self, params: &mut [T], rng: &mut dyn RngCore) {
        let (w, b) = params.split_at_mut(K * O * I);
        // `w` is whole columns of `I >= 1` inputs (a zero width does not compile).
        self.init
            .fill(w, I, rng)
            .expect("a layer's weights are whole columns of its inputs");
        b.fill(T::of_f64(self.bias));
    }

    fn new_cache(&self, max_batch: usize) -> MaxoutCache<T> {
        MaxoutCache {
            z: vec![T::ZERO; K * O * max_batch],
            winners: vec![0; O * max_batch],
            dz: vec![T::ZERO; K * O * max_batch],
        }
    }

    #[inline]
    fn forward_one(&self, p: &[T], _state: &[T], x: &SVector<T, I>) -> SVector<T, O> {
        Self::max_of_pieces(p, x, |_| ())
    }

    fn forward(
        &self,
        p: &[T],
        _state: &[T],
        x: BatchView<'_, T, I>,
        mut y: BatchViewMut<'_, T, O>,
    ) {
        for (xc, mut yc) in x.column_iter().zip(y.column_iter_mut()) {
            yc.copy_from(&Self::max_of_pieces(p, &xc, |_| ()));
        }
    }

    fn forward_train(
        &self,
        p: &[T],
        _state: &mut [T],
        x: BatchView<'_, T, I>,
        mut y: BatchViewMut<'_, T, O>,
        cache: &mut MaxoutCache<T>,
    ) {
        let (rows, batch) = (K * O, x.ncols());
        let (w, b) = p.split_at(rows * I);
        // Z = W X + b, all pieces in one product.
        let z = &mut cache.z[..rows * batch];
        let (w, x) = (weight_any(w, rows, I), Cols::of(&x).view());
        let mut z_view = MatrixViewMut::from_slice_generic(z, Dyn(rows), Dyn(batch));
        affine(&w, &x, &b[..rows], false, &mut z_view);
        // y = the winning piece of each output.
        let winners = &mut cache.winners[..O * batch];
        let columns = cache.z[..rows * batch].chunks_exact(rows);
        let outputs = y.as_mut_slice().chunks_exact_mut(O);
        for ((zc, yc), wc) in columns.zip(outputs).zip(winners.chunks_exact_mut(O)) {
            yc.copy_from_slice(&zc[..O]);
            wc.fill(0);
            for k in 1..K {
                let piece = &zc[k * O..(k + 1) * O];
                for o in 0..O {
                    if piece[o] > yc[o] {
                        yc[o] = piece[o];
                        wc[o] = k as u32;
                    }
                }
            }
        }
    }

    fn backward(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        _y: BatchView<'_, T, O>,
        cache: &mut MaxoutCache<T>,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dp: &mut [T],
    ) {
        self.backward_pieces(p, x, cache, dy, dx, dp, true);
    }

    fn backward_overwrite(
        &self,
        p: &[T],
        x: BatchView<'_, T, I>,
        _y: BatchView<'_, T, O>,
        cache: &mut MaxoutCache<T>,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dp: &mut [T],
    ) {
        self.backward_pieces(p, x, cache, dy, dx, dp, false);
    }

    fn record_kinks(&self, p: &[T], x: BatchView<'_, T, I>, kinks: &mut Kinks) {
        for xc in x.column_iter() {
            Self::max_of_pieces(p, &xc, |wins| kinks.record(wins));
        }
    }
}
