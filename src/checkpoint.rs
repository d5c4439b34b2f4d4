//! Checkpoints in the safetensors format, with PyTorch's names, so that a checkpoint also
//! opens in Python (`safetensors.torch.load_file`). The format is read and written by the
//! [`safetensors`] module here: the `safetensors` crate would bring serde and serde_json,
//! a quarter of a clean build's CPU time, for an 8-byte length and a small JSON header.
//!
//! The layout is documented on [`Checkpoint`], which is public. Saving writes a temporary file beside the target and renames it over the target only once
//! it is complete and flushed: a failed or interrupted save leaves the previous file intact.
//! Each save has its own temporary file (`<name>.<process id>-<count>.tmp`), so concurrent
//! saves to one path each leave a whole file. A process killed mid-save leaves its temporary
//! file behind, which nothing reads; the next successful save to the same path deletes it
//! once its process is gone and it has not been written to for a minute (on systems with
//! `/proc`; elsewhere such files may be deleted by hand).

mod safetensors;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::error::Error;
use crate::layer::TensorKind;
use crate::network::Network;
use crate::optim::Optimizer;
use crate::scalar::Float;
use crate::train::AverageWeights;

const FORMAT: &str = "constnet-1";

/// A set of named tensors and metadata, saved to and loaded from a safetensors file with
/// PyTorch's names, so that it also opens in Python (`safetensors.torch.load_file`):
///
/// | names | what | written by |
/// |---|---|---|
/// | `fc1.weight` (`[out, in]`, row-major), `fc1.bias`, ... | the network's parameters, as in PyTorch's `state_dict` | [`of`](Self::of) |
/// | `bn1.running_mean`, `bn1.running_var`, `bn1.num_batches_tracked` (`I64`, shape `[]`) | the network's state (batch norm's running statistics and count of training batches) | [`of`](Self::of) |
/// | `optimizer.<buffer>` (`[PARAM_COUNT]`) | the update rule's state, in the network's buffer order; metadata `optimizer.steps` | [`with_optimizer`](Self::with_optimizer) |
/// | `average.params` (`[PARAM_COUNT]`) | a running average of the weights; metadata `average.updates`, `average.decay` | [`with_average`](Self::with_average) |
/// | `preprocess.<name>` | a fitted preprocessing transform | [`Standardize::save_to`](crate::preprocess::Standardize::save_to) and [`Pca`](crate::preprocess::Pca)'s |
///
/// Tensors are stored as `F32` or `F64`, the network's scalar type, little-endian, so a
/// round trip is bit-exact (counts as `I64`, as PyTorch stores them); metadata `format` is
/// `constnet-1`.
///
/// For PyTorch, keep the model apart from the training state, as PyTorch users keep
/// `model.state_dict()` apart from the optimizer's: a checkpoint of [`of`](Self::of)
/// alone (as [`SaveCheckpoints`](crate::train::SaveCheckpoints)' `best.safetensors` is) has
/// exactly the model's keys, shapes and element types, which `load_state_dict(strict=True)`
/// asks for; `Checkpoint::new().with_optimizer(&rule)` in a second file holds the update
/// rule's state.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::Checkpoint;
/// network! { struct Net { fc1: Dense<2, 3>, bn: BatchNorm, fc2: Dense<3, 1> } }
/// let net = Net::new(0);
/// let path = std::env::temp_dir().join("constnet-doc-checkpoint.safetensors");
/// Checkpoint::of(&net).save(&path)?;
/// let mut other = Net::new(1);
/// Checkpoint::load(&path)?.restore(&mut other)?;
/// assert_eq!(other.params(), net.params());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    tensors: BTreeMap<String, Stored>,
    metadata: BTreeMap<String, String>,
}

/// One tensor: its shape, element type and values (an `f64` holds an `f32` exactly).
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    shape: Vec<usize>,
    dtype: Dtype,
    values: Vec<f64>,
}

/// The element types a checkpoint stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F64,
    /// PyTorch's `num_batches_tracked` counters; values up to 2^53 are exact in the `f64`.
    I64,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
        }
    }
}

impl Checkpoint {
    /// An empty checkpoint.
    ///
    /// ```
    /// let checkpoint = constnet::Checkpoint::new();
    /// assert!(checkpoint.names().is_empty());
    /// assert_eq!(checkpoint.metadata("format"), None);
    /// ```
    pub fn new() -> Self {
        Checkpoint::default()
    }

    /// A checkpoint of `net`'s parameters and state, under their PyTorch names.
    ///
    /// ```
    /// use constnet::{Checkpoint, prelude::*};
    /// network! { struct Net { fc1: Dense<2, 3>, bn: BatchNorm, fc2: Dense<3, 1> } }
    /// let checkpoint = Checkpoint::of(&Net::new(0));
    /// assert_eq!(checkpoint.names(), [
    ///     "bn.bias", "bn.num_batches_tracked", "bn.running_mean", "bn.running_var", "bn.weight",
    ///     "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight",
    /// ]);
    /// assert_eq!(checkpoint.get::<f32>("fc1.weight").unwrap().0, [3, 2]); // [out, in]
    /// assert_eq!(checkpoint.get::<f32>("bn.num_batches_tracked").unwrap(), (&[][..], vec![0.0]));
    /// assert_eq!(checkpoint.metadata("format"), Some("constnet-1"));
    /// ```
    pub fn of<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        net: &N,
    ) -> Self {
        let mut checkpoint = Checkpoint::new();
        let mut add = |t: crate::TensorRef| {
            let name = t.name();
            let values = net.param(&name).unwrap_or_default();
            checkpoint.insert::<T>(name.clone(), t.spec.shape.to_vec(), &values);
            if t.spec.kind == TensorKind::Count
                && let Some(stored) = checkpoint.tensors.get_mut(&name)
            {
                // A count is an integer tensor in PyTorch (`num_batches_tracked` is int64).
                stored.dtype = Dtype::I64;
            }
        };
        net.for_each_tensor(&mut add);
        net.for_each_state_tensor(&mut add);
        checkpoint.metadata.insert("format".into(), FORMAT.into());
        checkpoint
    }

    /// Adds an update rule's state (`optimizer.<buffer>`) and step count.
    ///
    /// ```
    /// use constnet::{Checkpoint, prelude::*};
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// let mut momentum = MomentumConfig::new(0.1).build::<f32>()?;
    /// momentum.step(net.params_mut(), &[1.0; 3])?;
    /// let checkpoint = Checkpoint::of(&net).with_optimizer(&momentum);
    /// assert_eq!(checkpoint.get::<f32>("optimizer.velocity").unwrap(), (&[3][..], vec![-0.1; 3]));
    /// assert_eq!(checkpoint.metadata("optimizer.steps"), Some("1"));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    #[must_use]
    pub fn with_optimizer<T: Float, O: Optimizer<T>>(mut self, optimizer: &O) -> Self {
        for (name, values) in optimizer.state() {
            self.insert::<T>(format!("optimizer.{name}"), vec![values.len()], values);
        }
        self.metadata
            .insert("optimizer.steps".into(), optimizer.steps().to_string());
        self
    }

    /// Adds (or replaces) a tensor; `values` must hold `shape`'s product of elements.
    ///
    /// ```
    /// use constnet::{Checkpoint, Error};
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.add("extra.table", &[2, 3], &[0.0f32; 6])?;
    /// checkpoint.add("extra.table", &[1], &[7.0f32])?; // replaces it
    /// assert_eq!(checkpoint.get::<f32>("extra.table"), Some((&[1][..], vec![7.0])));
    /// let err = checkpoint.add("extra.bad", &[2, 2], &[1.0f32; 3]);
    /// assert!(matches!(err, Err(Error::WrongLength { expected: 4, got: 3, .. })));
    /// // a shape whose product overflows is an error, not an empty tensor
    /// assert!(checkpoint.add::<f32>("extra.huge", &[1 << 32, 1 << 32], &[]).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn add<T: Float>(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[T],
    ) -> Result<(), Error> {
        // Checked: a shape such as [2^32, 2^32] wrapped to 0 and was accepted with no values.
        let Some(expected) = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
            return Err(Error::Checkpoint {
                path: String::new(),
                problems: vec![format!(
                    "tensor `{name}`'s shape {shape:?} has more elements than a usize counts"
                )],
            });
        };
        if expected != values.len() {
            return Err(Error::WrongLength {
                what: format!("checkpoint tensor `{name}`"),
                expected,
                got: values.len(),
            });
        }
        self.insert(name.to_string(), shape.to_vec(), values);
        Ok(())
    }

    fn insert<T: Float>(&mut self, name: String, shape: Vec<usize>, values: &[T]) {
        let dtype = if T::NAME == "f32" {
            Dtype::F32
        } else {
            Dtype::F64
        };
        let values = values.iter().map(|v| v.as_f64()).collect();
        self.tensors.insert(
            name,
            Stored {
                shape,
                dtype,
                values,
            },
        );
    }

    /// Sets a metadata entry.
    ///
    /// ```
    /// let mut checkpoint = constnet::Checkpoint::new();
    /// checkpoint.set_metadata("epoch", "3");
    /// checkpoint.set_metadata("epoch", "4"); // a key holds one value
    /// assert_eq!(checkpoint.metadata("epoch"), Some("4"));
    /// ```
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.metadata.insert(key.into(), value.into());
    }

    /// A metadata entry.
    ///
    /// ```
    /// use constnet::{Checkpoint, prelude::*};
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let checkpoint = Checkpoint::of(&Net::new(0));
    /// assert_eq!(checkpoint.metadata("format"), Some("constnet-1"));
    /// assert_eq!(checkpoint.metadata("optimizer.steps"), None); // no optimizer added
    /// ```
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Every tensor's name, sorted.
    ///
    /// ```
    /// let mut checkpoint = constnet::Checkpoint::new();
    /// checkpoint.add("b", &[1], &[0.0f64])?;
    /// checkpoint.add("a", &[1], &[0.0f64])?;
    /// assert_eq!(checkpoint.names(), ["a", "b"]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn names(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }

    /// A tensor's shape and values converted to `T`, or `None` if there is no such tensor.
    ///
    /// ```
    /// let mut checkpoint = constnet::Checkpoint::new();
    /// checkpoint.add("x", &[2], &[0.1f64, 2.0])?;
    /// assert_eq!(checkpoint.get::<f64>("x"), Some((&[2][..], vec![0.1, 2.0])));
    /// assert_eq!(checkpoint.get::<f32>("x").unwrap().1, [0.1f32, 2.0]); // rounded to f32
    /// assert_eq!(checkpoint.get::<f32>("y"), None);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn get<T: Float>(&self, name: &str) -> Option<(&[usize], Vec<T>)> {
        self.tensors.get(name).map(|t| {
            (
                &t.shape[..],
                t.values.iter().map(|&v| T::of_f64(v)).collect(),
            )
        })
    }

    /// Loads every parameter and state tensor of `net` from the checkpoint. Names or shapes
    /// that differ are an [`Error::Checkpoint`] listing each missing, unexpected or
    /// misshapen tensor, and then `net` is left unchanged. Tensors named `optimizer.*`,
    /// `average.*` and `preprocess.*` (restored by
    /// [`restore_optimizer`](Self::restore_optimizer),
    /// [`restore_average`](Self::restore_average) and the transforms' own loaders) are not
    /// unexpected; any other tensor the network does not
    /// have is. A batch norm's `num_batches_tracked` may be missing (a file written before
    /// constnet kept it): the count is then 0; present, it must be a whole number.
    ///
    /// ```
    /// use constnet::{Checkpoint, Error, prelude::*};
    /// network! { struct Small { fc1: Dense<2, 3>, relu: Relu, fc2: Dense<3, 1> } }
    /// network! { struct Wide { fc1: Dense<2, 4>, relu: Relu, fc2: Dense<4, 1> } }
    /// let checkpoint = Checkpoint::of(&Small::new(0));
    /// let mut small = Small::new(1);
    /// checkpoint.restore(&mut small)?;
    /// assert_eq!(small.params(), Small::new(0).params());
    /// let mut wide = Wide::new(1);
    /// let Err(Error::Checkpoint { problems, .. }) = checkpoint.restore(&mut wide) else { panic!() };
    /// assert_eq!(problems.len(), 3); // fc1.weight, fc1.bias and fc2.weight differ in shape
    /// assert_eq!(wide.params(), Wide::new(1).params()); // unchanged
    /// // an f64 weight beyond f32's range, for an f32 network
    /// let mut huge = Checkpoint::of(&Small::<f64>::init(0));
    /// huge.add("fc2.bias", &[1], &[1e300f64])?;
    /// let Err(Error::Checkpoint { problems, .. }) = huge.restore(&mut small) else { panic!() };
    /// assert_eq!(problems, ["`fc2.bias` element 0 is 1e300, not a finite f32"]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn restore<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        &self,
        net: &mut N,
    ) -> Result<(), Error> {
        let mut problems = Vec::new();
        let mut expected = Vec::new();
        let mut visit = |t: crate::TensorRef| expected.push((t.name(), t.spec.shape, t.spec.kind));
        net.for_each_tensor(&mut visit);
        net.for_each_state_tensor(&mut visit);
        for (name, shape, kind) in &expected {
            match self.tensors.get(name) {
                // A file written before constnet kept batch norm's count, or by a program
                // that does not keep it: the count starts again at 0.
                None if *kind == TensorKind::Count => {}
                None => problems.push(format!("missing `{name}` {shape:?}")),
                Some(t) if t.shape != *shape => problems.push(format!(
                    "`{name}` is {:?} in the file but {shape:?} in the network",
                    t.shape
                )),
                Some(t) if *kind == TensorKind::Count => {
                    if let Some(&v) = t.values.iter().find(|&&v| !(v >= 0.0 && v.fract() == 0.0)) {
                        problems.push(format!("`{name}` is {v}, not a count"));
                    }
                }
                // Not finite in the network's scalar type: a NaN, or an `f64` value such as
                // 1e300 that an `f32` network would hold as infinity.
                Some(t) => {
                    if let Some(at) = t.values.iter().position(|&v| !T::of_f64(v).is_finite()) {
                        problems.push(format!(
                            "`{name}` element {at} is {:e}, not a finite {}",
                            t.values[at],
                            T::NAME
                        ));
                    }
                }
            }
        }
        for name in self.tensors.keys() {
            let known = expected.iter().any(|(n, ..)| n == name);
            let other = ["optimizer.", "preprocess.", "average."];
            if !known && !other.iter().any(|prefix| name.starts_with(prefix)) {
                problems.push(format!(
                    "unexpected `{name}`, which the network does not have"
                ));
            }
        }
        if !problems.is_empty() {
            // The first few, and how many more: a file of 10,000 unknown tensors once made
            // an error of half a megabyte.
            const SHOWN: usize = 8;
            if problems.len() > SHOWN {
                let more = problems.len() - SHOWN;
                problems.truncate(SHOWN);
                problems.push(format!("and {more} more"));
            }
            return Err(Error::Checkpoint {
                path: "(in memory)".into(),
                problems,
            });
        }
        for (name, shape, _) in &expected {
            match self.get::<T>(name) {
                Some((_, values)) => net.write_param(name, &values)?,
                None => net.write_param(name, &vec![T::ZERO; shape.iter().product()])?,
            }
        }
        Ok(())
    }

    /// Loads an update rule's state saved by [`with_optimizer`](Self::with_optimizer).
    ///
    /// ```
    /// use constnet::{Checkpoint, prelude::*};
    /// let mut saved = MomentumConfig::new(0.1).build::<f64>()?;
    /// saved.step(&mut [0.0, 0.0], &[1.0, 2.0])?;
    /// let checkpoint = Checkpoint::new().with_optimizer(&saved);
    /// let mut resumed = MomentumConfig::new(0.1).build::<f64>()?;
    /// checkpoint.restore_optimizer(&mut resumed)?;
    /// assert_eq!((resumed.steps(), resumed.state()), (1, saved.state()));
    /// assert!(Checkpoint::new().restore_optimizer(&mut resumed).is_err()); // nothing saved
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn restore_optimizer<T: Float, O: Optimizer<T>>(
        &self,
        optimizer: &mut O,
    ) -> Result<(), Error> {
        let steps = self
            .metadata("optimizer.steps")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Checkpoint {
                path: "(in memory)".into(),
                problems: vec!["no optimizer state (metadata `optimizer.steps`)".into()],
            })?;
        let buffers: Vec<(String, Vec<T>)> = self
            .tensors
            .keys()
            .filter_map(|name| name.strip_prefix("optimizer."))
            .filter_map(|short| {
                Some((
                    short.to_string(),
                    self.get::<T>(&format!("optimizer.{short}"))?.1,
                ))
            })
            .collect();
        let views: Vec<(&str, &[T])> = buffers.iter().map(|(n, v)| (n.as_str(), &v[..])).collect();
        optimizer.load_state(steps, &views)
    }

    /// Adds a running average of the weights ([`AverageWeights`]): `average.params`
    /// (`[PARAM_COUNT]`, in the network's buffer order) and metadata `average.updates` and
    /// `average.decay`. To hand the averaged model itself to PyTorch, save
    /// `Checkpoint::of(&average.averaged(&net)?)` in a file of its own.
    ///
    /// ```
    /// use constnet::{Checkpoint, prelude::*, train::AverageWeights};
    /// let mut average = AverageWeights::<f32>::new(0.9)?;
    /// average.update(&[1.0, 2.0, 3.0])?;
    /// let checkpoint = Checkpoint::new().with_average(&average);
    /// assert_eq!(checkpoint.get::<f32>("average.params").unwrap().1, [1.0, 2.0, 3.0]);
    /// let mut resumed = AverageWeights::<f32>::new(0.9)?;
    /// checkpoint.restore_average(&mut resumed)?;
    /// assert_eq!((resumed.params(), resumed.updates()), (average.params(), 1));
    /// // another decay is another average
    /// assert!(checkpoint.restore_average(&mut AverageWeights::<f32>::new(0.5)?).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    #[must_use]
    pub fn with_average<T: Float>(mut self, average: &AverageWeights<T>) -> Self {
        self.insert::<T>(
            "average.params".into(),
            vec![average.params().len()],
            average.params(),
        );
        self.metadata
            .insert("average.updates".into(), average.updates().to_string());
        self.metadata
            .insert("average.decay".into(), average.decay().to_string());
        self
    }

    /// Loads a running average saved by [`with_average`](Self::with_average) into
    /// `average`, whose decay must be the saved one; on any error `average` is unchanged.
    pub fn restore_average<T: Float>(&self, average: &mut AverageWeights<T>) -> Result<(), Error> {
        let problem = |what: String| Error::Checkpoint {
            path: "(in memory)".into(),
            problems: vec![what],
        };
        let updates: u64 = self
            .metadata("average.updates")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| problem("no weight average (metadata `average.updates`)".into()))?;
        let decay: f64 = self
            .metadata("average.decay")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| problem("no weight average decay (metadata `average.decay`)".into()))?;
        if decay != average.decay() {
            return Err(problem(format!(
                "the weight average was saved with decay {decay}, not {}",
                average.decay()
            )));
        }
        let (_, params) = self
            .get::<T>("average.params")
            .ok_or_else(|| problem("no `average.params`".into()))?;
        average.resume(&params, updates)
    }

    /// Restores a training run: `net` as [`restore`](Self::restore) does and `optimizer` as
    /// [`restore_optimizer`](Self::restore_optimizer) does, after checking that every saved
    /// optimizer buffer holds one value per parameter of `net` (state saved for another
    /// network would otherwise be taken, and fail only at the first step). Both or neither:
    /// on any error `net` and `optimizer` are as they were.
    ///
    /// ```
    /// use constnet::{Checkpoint, Error, prelude::*};
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// network! { struct Wider { fc: Dense<3, 1> } }
    /// let mut net = Net::new(0);
    /// let mut adam = AdamConfig::new(1e-2).build::<f32>()?;
    /// adam.step(net.params_mut(), &[0.5; 3])?;
    /// let checkpoint = Checkpoint::of(&net).with_optimizer(&adam);
    /// let (mut resumed, mut rule) = (Net::new(1), AdamConfig::new(1e-2).build::<f32>()?);
    /// checkpoint.restore_with_optimizer(&mut resumed, &mut rule)?;
    /// assert_eq!((resumed.params(), rule.steps()), (net.params(), 1));
    /// // Adam's moments for 3 parameters do not fit a network of 4
    /// let mut other = Checkpoint::of(&Wider::new(0));
    /// other.add("optimizer.m", &[3], &[0.0f32; 3])?;
    /// other.set_metadata("optimizer.steps", "1");
    /// let (mut wider, mut fresh) = (Wider::new(5), AdamConfig::new(1e-2).build::<f32>()?);
    /// let err = other.restore_with_optimizer(&mut wider, &mut fresh).unwrap_err();
    /// assert!(matches!(err, Error::WrongLength { expected: 4, got: 3, .. }));
    /// assert_eq!((wider.params(), fresh.steps()), (Wider::new(5).params(), 0)); // unchanged
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn restore_with_optimizer<T, const IN: usize, const OUT: usize, N, O>(
        &self,
        net: &mut N,
        optimizer: &mut O,
    ) -> Result<(), Error>
    where
        T: Float,
        N: Network<T, IN, OUT>,
        O: Optimizer<T>,
    {
        for (name, t) in &self.tensors {
            if let Some(short) = name.strip_prefix("optimizer.")
                && t.values.len() != N::PARAM_COUNT
            {
                return Err(Error::WrongLength {
                    what: format!(
                        "optimizer state `{short}` (one value per parameter of the network)"
                    ),
                    expected: N::PARAM_COUNT,
                    got: t.values.len(),
                });
            }
        }
        let (params, state) = (net.params().to_vec(), net.state().to_vec());
        self.restore(net)?;
        if let Err(e) = self.restore_optimizer(optimizer) {
            net.params_mut().copy_from_slice(&params);
            net.state_mut().copy_from_slice(&state);
            return Err(e);
        }
        Ok(())
    }

    /// The bytes of the safetensors file [`save`](Self::save) writes, for a program that
    /// stores or sends them itself; [`from_bytes`](Self::from_bytes) reads them back.
    ///
    /// ```
    /// use constnet::Checkpoint;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.add("x", &[2], &[1.5f32, -2.0])?;
    /// let bytes = checkpoint.to_bytes();
    /// assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize + 8 + 8, bytes.len());
    /// assert_eq!(Checkpoint::from_bytes(&bytes)?, checkpoint);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = self.tensors.values().map(to_bytes).collect();
        let views: Vec<(&str, &str, &[usize], &[u8])> = self
            .tensors
            .iter()
            .zip(&bytes)
            .map(|((name, t), data)| (name.as_str(), t.dtype.name(), &t.shape[..], &data[..]))
            .collect();
        safetensors::serialize(&views, &self.metadata)
    }

    /// Writes the checkpoint to `path` through a temporary file renamed over it.
    ///
    /// ```
    /// use constnet::Checkpoint;
    /// let dir = std::env::temp_dir();
    /// let path = dir.join(format!("constnet-doc-save-{}.safetensors", std::process::id()));
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.add("x", &[3], &[1.0f32, 2.0, 3.0])?;
    /// checkpoint.save(&path)?;
    /// assert_eq!(Checkpoint::load(&path)?, checkpoint);
    /// assert!(checkpoint.save(dir.join("constnet-no-such-dir").join("x.safetensors")).is_err());
    /// std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let fail = |what: String| Error::Checkpoint {
            path: path.display().to_string(),
            problems: vec![what],
        };
        let serialized = self.to_bytes();
        let (temp, file) = create_temp(path).map_err(|e| match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => fail(format!(
                "the directory {} does not exist (create it first)",
                dir.display()
            )),
            _ => fail(format!(
                "could not create a temporary file beside it ({e}); any previous file is \
                 unchanged"
            )),
        })?;
        let written = (|| {
            let mut file = file;
            file.write_all(&serialized)?;
            file.sync_all()
        })();
        if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
            let _ = std::fs::remove_file(&temp);
            return Err(fail(format!(
                "could not write it ({e}); any previous file is unchanged"
            )));
        }
        remove_stale_temps(path);
        Ok(())
    }

    /// Reads a checkpoint; a missing, truncated or corrupt file, or a tensor of another
    /// element type than `F32`, `F64`, `F16`, `BF16` (widened to `F32`, exactly) or `I64`
    /// (PyTorch's `num_batches_tracked`), is an [`Error::Checkpoint`].
    ///
    /// ```
    /// use constnet::{Checkpoint, Error};
    /// let path = std::env::temp_dir().join(format!("constnet-doc-load-{}.safetensors", std::process::id()));
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.add("x", &[2], &[0.5f64, -1.0])?;
    /// checkpoint.save(&path)?;
    /// assert_eq!(Checkpoint::load(&path)?.get::<f64>("x"), Some((&[2][..], vec![0.5, -1.0])));
    /// std::fs::write(&path, b"not a checkpoint").unwrap();
    /// assert!(matches!(Checkpoint::load(&path), Err(Error::Checkpoint { .. })));
    /// std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let fail = |what: String| Error::Checkpoint {
            path: path.display().to_string(),
            problems: vec![what],
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("could not read it ({e})")))?;
        Checkpoint::from_bytes(&bytes).map_err(|e| match e {
            Error::Checkpoint { problems, .. } => Error::Checkpoint {
                path: path.display().to_string(),
                problems,
            },
            other => other,
        })
    }

    /// Reads a checkpoint from the bytes of a safetensors file, such as a model built into
    /// the program with `include_bytes!`; errors as [`load`](Self::load)'s, with the path
    /// `(in memory)`.
    ///
    /// ```
    /// use constnet::{Checkpoint, Error, prelude::*};
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let path = std::env::temp_dir().join(format!("constnet-doc-bytes-{}.safetensors", std::process::id()));
    /// Checkpoint::of(&Net::new(0)).save(&path)?;
    /// let bytes = std::fs::read(&path).unwrap(); // or include_bytes!("model.safetensors")
    /// let mut net = Net::new(1);
    /// Checkpoint::from_bytes(&bytes)?.restore(&mut net)?;
    /// assert_eq!(net.params(), Net::new(0).params());
    /// assert!(matches!(Checkpoint::from_bytes(&bytes[..20]), Err(Error::Checkpoint { .. })));
    /// std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let fail = |what: String| Error::Checkpoint {
            path: "(in memory)".into(),
            problems: vec![what],
        };
        let (entries, metadata) = safetensors::parse(bytes)
            .map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
        let mut checkpoint = Checkpoint::new();
        for entry in entries {
            let (dtype, values) = from_bytes(&entry.dtype, entry.data).ok_or_else(|| {
                fail(format!(
                    "`{}` is {}; expected F32, F64, F16, BF16 or I64",
                    entry.name, entry.dtype
                ))
            })?;
            let stored = Stored {
                shape: entry.shape,
                dtype,
                values,
            };
            checkpoint.tensors.insert(entry.name, stored);
        }
        checkpoint.metadata = metadata;
        Ok(checkpoint)
    }

    /// Like [`restore`](Self::restore) for a checkpoint read from `path`, with the path in
    /// the error.
    ///
    /// ```
    /// use constnet::{Checkpoint, prelude::*};
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// network! { struct Other { fc: Dense<3, 1> } }
    /// let path = std::env::temp_dir().join(format!("constnet-doc-load-into-{}.safetensors", std::process::id()));
    /// Checkpoint::of(&Net::new(0)).save(&path)?;
    /// let mut net = Net::new(1);
    /// Checkpoint::load_into(&path, &mut net)?;
    /// assert_eq!(net.params(), Net::new(0).params());
    /// let err = Checkpoint::load_into(&path, &mut Other::new(0)).unwrap_err();
    /// assert!(err.to_string().contains(&*path.to_string_lossy())); // names the file
    /// std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn load_into<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        path: impl AsRef<Path>,
        net: &mut N,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let checkpoint = Checkpoint::load(path)?;
        checkpoint.restore(net).map_err(|e| match e {
            Error::Checkpoint { problems, .. } => Error::Checkpoint {
                path: path.display().to_string(),
                problems,
            },
            other => other,
        })?;
        Ok(checkpoint)
    }
}

/// A new file beside `path` for a save to write before renaming it over `path`: named
/// `<name>.<process id>-<count>.tmp`, created only if no such file exists, so that saves to
/// one path from several threads or processes never write into each other's file (they all
/// once used `<name>.tmp`), and a leftover file or directory of any such name is passed
/// over. A process killed mid-save leaves its temporary file behind; it is never read, and
/// [`remove_stale_temps`] deletes it later.
fn create_temp(path: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_os_string();
    loop {
        let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut temp_name = name.clone();
        temp_name.push(format!(".{}-{count}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Deletes the temporary files that saves to `path` left behind when their process died
/// mid-save: files named `<name>.<process id>-<count>.tmp` whose process is no longer
/// running and that nothing has written to for a minute. Where that cannot be told (no
/// `/proc`, as on macOS and Windows), nothing is deleted. A file of a live process, of this
/// one, or of a process in another PID namespace that is still writing (the minute) is
/// left alone; errors are ignored, since the save itself succeeded.
fn remove_stale_temps(path: &Path) {
    let proc = Path::new("/proc");
    let (Some(name), Some(dir)) = (path.file_name(), path.parent()) else {
        return;
    };
    let (Some(name), true) = (name.to_str(), proc.join("self").exists()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|f| {
                f.strip_prefix(name)?
                    .strip_prefix('.')?
                    .strip_suffix(".tmp")
            })
            .and_then(|middle| middle.split_once('-'))
            .filter(|(_, count)| count.parse::<u64>().is_ok())
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let idle = entry
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= 60);
        if idle && pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn to_bytes(t: &Stored) -> Vec<u8> {
    match t.dtype {
        Dtype::F32 => t
            .values
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect(),
        Dtype::F64 => t.values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        Dtype::I64 => t
            .values
            .iter()
            .flat_map(|&v| (v as i64).to_le_bytes())
            .collect(),
    }
}

/// An IEEE half-precision number, exactly as `f32`.
fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f32::from(bits & 0x3ff);
    sign * match exponent {
        0 => mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}

/// A tensor's values from its element type's name and bytes: `F32` and `F64`; `F16` and
/// `BF16` widened to `F32` (every value exactly); `I64` (PyTorch's `num_batches_tracked`).
fn from_bytes(dtype: &str, data: &[u8]) -> Option<(Dtype, Vec<f64>)> {
    let halves = |convert: fn(u16) -> f32| {
        data.chunks_exact(2)
            .map(|b| f64::from(convert(u16::from_le_bytes([b[0], b[1]]))))
            .collect()
    };
    match dtype {
        "F16" => Some((Dtype::F32, halves(f16_to_f32))),
        "BF16" => Some((
            Dtype::F32,
            halves(|bits| f32::from_bits(u32::from(bits) << 16)),
        )),
        "I64" => Some((
            Dtype::I64,
            data.chunks_exact(8)
                .map(|b| {
                    i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f64
                })
                .collect(),
        )),
        "F32" => Some((
            Dtype::F32,
            data.chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        )),
        "F64" => Some((
            Dtype::F64,
            data.chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
        )),
        _ => None,
    }
}
