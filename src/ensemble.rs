//! Model ensembles: several networks of one type whose class probabilities are averaged, as
//! the notes' section on ensembles describes (the same model from different
//! initializations, the top models of a hyperparameter search, or checkpoints of one run).

use std::path::Path;

use crate::batch::{AnyBatch, Batch, BatchIs};
use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::metrics::{softmax_in_place, top_k_accuracy};
use crate::network::{Network, OnBatch, as_batch};
use crate::scalar::Float;

/// Networks of one type, at least one, that predict together: the mean of their softmax
/// probabilities per sample.
///
/// ```
/// use constnet::ensemble::Ensemble;
/// use constnet::prelude::*;
/// use constnet::train::{Config, Progress, fit};
/// network! { struct Net { fc1: Dense<2, 16>, relu: Relu, fc2: Dense<16, 3> } }
/// let data = constnet::datasets::spiral::<f32>(60, 3, 0);
/// let config = Config { progress: Progress::Silent, ..Config::new(40, 30) };
/// let mut members = Vec::new();
/// for seed in 0..3 {
///     let mut net = Net::new(seed); // the same model from three initializations
///     fit(&mut net, &mut AdamConfig::new(1e-2).build()?, &SoftmaxCrossEntropy, &data, None, &config)?;
///     members.push(net);
/// }
/// let ensemble = Ensemble::new(members)?;
/// let p = ensemble.predict_proba(&data.inputs);
/// assert!(p.column_iter().all(|c| (c.sum() - 1.0).abs() < 1e-5));
/// assert!(ensemble.accuracy(&data.inputs, &data.labels)? > 0.5);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Ensemble<N> {
    members: Vec<N>,
}

impl<N> Ensemble<N> {
    /// An ensemble of `members`; none is an [`Error::NotApplicable`].
    ///
    /// ```
    /// use constnet::{ensemble::Ensemble, prelude::*};
    /// network! { struct Net { fc: Dense<2, 3> } }
    /// assert!(Ensemble::<Net>::new(vec![]).is_err());
    /// assert_eq!(Ensemble::new(vec![Net::new(0), Net::new(1)])?.len(), 2);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(members: Vec<N>) -> Result<Self, Error> {
        if members.is_empty() {
            return Err(Error::NotApplicable {
                what: "an ensemble of no networks".into(),
            });
        }
        Ok(Ensemble { members })
    }

    /// The networks, in the order given.
    pub fn members(&self) -> &[N] {
        &self.members
    }

    /// How many networks there are (at least one).
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> usize {
        self.members.len()
    }
}

/// An [`Ensemble`]'s predictions on a batch of shape `W` (see [`OnBatch`]): implemented for
/// every ensemble of `Network<T, IN, OUT>`s and every batch of `IN`-wide samples of `T`, so
/// that a batch of another width or scalar type is this trait's error, which names the
/// ensemble and the width it takes. In the [prelude](crate::prelude), as [`OnBatch`] is.
///
/// ```compile_fail
/// use constnet::{ensemble::Ensemble, prelude::*};
/// network! { struct Net { fc: Dense<2, 3> } }
/// let ensemble = Ensemble::new(vec![Net::new(0)]).unwrap();
/// ensemble.predict(&Batch::<f32, 3>::zeros(4)); // 3-wide samples for 2 inputs
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes a batch of {IN}-wide `{T}` samples",
    label = "given another width or type"
)]
pub trait EnsembleOnBatch<W, T: Float, const IN: usize, const OUT: usize> {
    /// The mean of the members' class probabilities (each member's softmax, as
    /// [`OnBatch::predict_proba`] computes it), one column per sample.
    ///
    /// ```
    /// use constnet::{ensemble::Ensemble, prelude::*};
    /// network! { struct Net { fc: Dense<2, 3> } }
    /// let ensemble = Ensemble::new(vec![Net::new(0), Net::new(1)])?;
    /// let x = constnet::batch::from_rows(&[[0.5, -1.0], [2.0, 0.0]]);
    /// let p = ensemble.predict_proba(&x);
    /// let (a, b) = (Net::new(0).predict_proba(&x), Net::new(1).predict_proba(&x));
    /// assert!((p - (a + b) / 2.0).abs().max() < 1e-6);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn predict_proba<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Batch<T, OUT>;

    /// The members' mean probabilities at `temperature` (each member's softmax of its scores
    /// divided by it): the softened targets a smaller network is distilled from (see
    /// [`Distillation`](crate::losses::Distillation)). At temperature 1 this is
    /// [`predict_proba`](Self::predict_proba).
    ///
    /// ```
    /// use constnet::{ensemble::Ensemble, prelude::*};
    /// network! { struct Net { fc: Dense<2, 3> } }
    /// let mut net = Net::<f64>::init(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0])?;
    /// let ensemble = Ensemble::new(vec![net])?;
    /// let x = constnet::batch::from_rows(&[[4.0, 0.0]]); // scores (4, 0, 0) plus the biases
    /// let sharp = ensemble.soft_targets(&x, 1.0)?;
    /// let soft = ensemble.soft_targets(&x, 4.0)?;
    /// assert!(soft[0] < sharp[0] && soft[1] > sharp[1]); // closer to uniform
    /// assert!(ensemble.soft_targets(&x, 0.0).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn soft_targets<X: ?Sized + AnyBatch<Shape = W>>(
        &self,
        x: &X,
        temperature: f64,
    ) -> Result<Batch<T, OUT>, Error>;

    /// The class with the highest mean probability, per sample.
    ///
    /// ```
    /// use constnet::{ensemble::Ensemble, prelude::*};
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 1.0])?; // the scores are the inputs
    /// let ensemble = Ensemble::new(vec![net.clone(), net])?;
    /// assert_eq!(ensemble.predict(&[[0.2, 0.9], [0.7, 0.1]]), [1, 0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn predict<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Vec<usize>;

    /// The fraction of samples whose predicted class is their label; labels of another
    /// count or out of range are an error, as [`OnBatch::accuracy`] says.
    ///
    /// ```
    /// use constnet::{ensemble::Ensemble, prelude::*};
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 1.0])?; // the scores are the inputs
    /// let ensemble = Ensemble::new(vec![net])?;
    /// let x = constnet::batch::from_rows(&[[0.2, 0.9], [0.7, 0.1]]);
    /// assert_eq!(ensemble.accuracy(&x, &[1, 1])?, 0.5);
    /// assert!(ensemble.accuracy(&x, &[1]).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn accuracy<X: ?Sized + AnyBatch<Shape = W>>(
        &self,
        x: &X,
        labels: &[usize],
    ) -> Result<f64, Error>;
}

/// `do_not_recommend`: rustc then reports a batch of another width or scalar type with
/// [`EnsembleOnBatch`]'s message alone.
#[diagnostic::do_not_recommend]
impl<W, T, const IN: usize, const OUT: usize, N> EnsembleOnBatch<W, T, IN, OUT> for Ensemble<N>
where
    W: BatchIs<T, IN>,
    T: Float,
    N: Network<T, IN, OUT>,
{
    fn predict_proba<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Batch<T, OUT> {
        let x = as_batch(x);
        let mut members = self.members.iter();
        let first = members.next().expect("an ensemble has a member");
        let mut sum = first.predict_proba(&x);
        for net in members {
            sum += net.predict_proba(&x);
        }
        sum / T::of_f64(self.members.len() as f64)
    }

    fn soft_targets<X: ?Sized + AnyBatch<Shape = W>>(
        &self,
        x: &X,
        temperature: f64,
    ) -> Result<Batch<T, OUT>, Error> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::BadHyperparameter {
                name: "temperature",
                value: temperature,
                expected: "above 0, finite",
            });
        }
        let x = as_batch(x);
        let scale = T::ONE / T::of_f64(temperature);
        let mut sum = Batch::<T, OUT>::zeros(x.ncols());
        for net in &self.members {
            let mut p = net.forward_batch(&x);
            for column in p.as_mut_slice().chunks_exact_mut(OUT) {
                softmax_in_place(column, scale);
            }
            sum += p;
        }
        Ok(sum / T::of_f64(self.members.len() as f64))
    }

    fn predict<X: ?Sized + AnyBatch<Shape = W>>(&self, x: &X) -> Vec<usize> {
        self.predict_proba(x)
            .column_iter()
            .map(|p| p.argmax().0)
            .collect()
    }

    fn accuracy<X: ?Sized + AnyBatch<Shape = W>>(
        &self,
        x: &X,
        labels: &[usize],
    ) -> Result<f64, Error> {
        top_k_accuracy(&self.predict_proba(x), labels, 1)
    }
}

impl<N> Ensemble<N> {
    /// An ensemble of the model files at `paths` (checkpoints of one run, say), each loaded
    /// into a network of this type as [`Checkpoint::restore`] does.
    ///
    /// ```
    /// use constnet::{Checkpoint, ensemble::Ensemble, prelude::*};
    /// network! { struct Net { fc: Dense<2, 3> } }
    /// let dir = std::env::temp_dir();
    /// let id = std::process::id();
    /// let paths: Vec<_> =
    ///     (0..2).map(|i| dir.join(format!("constnet-doc-ensemble-{id}-{i}.safetensors"))).collect();
    /// for (seed, path) in paths.iter().enumerate() {
    ///     Checkpoint::of(&Net::new(seed as u64)).save(path)?;
    /// }
    /// let ensemble = Ensemble::<Net>::load(&paths)?;
    /// assert_eq!(ensemble.members()[1].params(), Net::new(1).params());
    /// # for path in &paths { std::fs::remove_file(path).ok(); }
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn load<T, const IN: usize, const OUT: usize>(
        paths: &[impl AsRef<Path>],
    ) -> Result<Self, Error>
    where
        T: Float,
        N: Network<T, IN, OUT>,
    {
        let members = paths
            .iter()
            .map(|path| {
                let mut net = N::init(0);
                Checkpoint::load_into(path, &mut net)?;
                Ok(net)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ensemble::new(members)
    }
}
