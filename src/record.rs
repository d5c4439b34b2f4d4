//! A training run written to a directory as it happens, for the notes' "babysitting the
//! learning process": [`fit`](crate::train::fit) with [`Config::record`](crate::train::Config)
//! set writes
//!
//! | file | what |
//! |---|---|
//! | `metrics.csv` | a row per step (`kind` `step`: the batch's loss and accuracy, the learning rate, every parameter tensor's update/weight ratio and gradient norm) and a row per epoch (`kind` `epoch`: the epoch's mean training loss and accuracy, the validation loss and accuracy, the epoch's wall time, and the ratios and norms of its last step) |
//! | `histograms.csv` | every histogram of the event file as rows `epoch,step,kind,name,lower,upper,count` (`kind` `weights`, `gradients` or `activations`), for plots and other tools |
//! | `first_layer.png` | after the last epoch, the first layer's weights as a grid of images, one tile per output unit (its incoming weights, rescaled to black at their minimum and white at their maximum, each pixel drawn 2 x 2, tiles 2 pixels apart on gray), when the input is an image: see [`Record::input_image`] |
//! | `activations.csv` | after the chosen epochs, each layer's output over a probe batch (evaluation mode): mean, standard deviation, and for ReLU the fraction of dead units (zero for every probe sample), for tanh and sigmoid the fraction of saturated values (`|h| > 0.99`; below 0.01 or above 0.99) |
//! | `events.out.tfevents.<time>.<host>.constnet` | the same scalars, and histograms of every parameter tensor, its gradient and every layer's output after the chosen epochs, as TensorBoard event files: `tensorboard --logdir <dir>` shows the run as it shows a PyTorch one |
//!
//! A run resumed with [`Config::first_epoch`](crate::train::Config) appends its rows to the
//! tables of the run it goes on from; its new event file joins the old one, and TensorBoard
//! reads both.
//!
//! The numbers are written with Rust's shortest round-trip formatting, so a loss read back
//! from `metrics.csv` equals the one in [`History`](crate::train::History) bit for bit. A
//! step's row and scalars are formatted into buffers that are reused, so recording
//! allocates nothing per step after the first; the event file holds the values as `f32`,
//! as TensorBoard's scalars do.
//!
//! | TensorBoard tag | step | value |
//! |---|---|---|
//! | `train/loss`, `train/accuracy`, `train/learning_rate` | each step | the batch's loss (with the penalty) and accuracy (in training mode), the learning rate |
//! | `update_ratio/<tensor>`, `grad_norm/<tensor>` | each step | `‖Δw‖ / ‖w‖` (the notes' ~1e-3), `‖dw‖` |
//! | `epoch/train_loss`, `epoch/train_accuracy`, `epoch/val_loss`, `epoch/val_accuracy` | the epoch's last step | as in [`EpochStats`] |
//! | `weights/<tensor>`, `gradients/<tensor>` (histograms) | the chosen epochs' last steps | every value of the tensor, of its gradient at that step |
//! | `activations/<layer>` (histogram) | the chosen epochs' last steps | every output value of the layer over the probe batch |
//! | `dead_fraction/<layer>`, `saturated_fraction/<layer>` | the chosen epochs' last steps | as in `activations.csv` |

pub(crate) mod tensorboard;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::batch::Batch;
use crate::diagnostics::TensorStats;
use crate::error::Error;
use crate::layer::TensorSpec;
use crate::network::{LayerInfo, Network, OnSample, in_pytorch_order};
use crate::scalar::Float;
use crate::train::EpochStats;
use tensorboard::{EventWriter, Histogram};

/// Where and what [`fit`](crate::train::fit) records; see the [module](self).
///
/// ```
/// use constnet::prelude::*;
/// use constnet::record::Record;
/// use constnet::train::{Config, Progress, fit};
/// network! { struct Net { fc1: Dense<2, 16>, act: Relu, fc2: Dense<16, 3> } }
/// let data = constnet::datasets::spiral::<f32>(30, 3, 0);
/// let dir = std::env::temp_dir().join(format!("constnet-doc-record-{}", std::process::id()));
/// let config = Config {
///     record: Some(Record::new(&dir)),
///     progress: Progress::Silent,
///     ..Config::new(3, 30)
/// };
/// let history = fit(&mut Net::new(0), &mut Sgd::new(0.5)?, &SoftmaxCrossEntropy, &data, None, &config)?;
/// let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
/// assert_eq!(csv.lines().filter(|l| l.starts_with("step,")).count(), 9); // 3 steps an epoch
/// let epochs: Vec<&str> = csv.lines().filter(|l| l.starts_with("epoch,")).collect();
/// let loss: f64 = epochs[2].split(',').nth(3).unwrap().parse().unwrap();
/// assert_eq!(loss, history.epochs[2].train_loss); // bit for bit
/// assert!(std::fs::read_dir(&dir).unwrap().any(|e| {
///     e.unwrap().file_name().to_string_lossy().starts_with("events.out.tfevents.")
/// }));
/// std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The run's directory, created if missing; files of an earlier run there are replaced
    /// (`metrics.csv`) or joined by a new event file.
    pub dir: PathBuf,
    /// The epochs (from 1) after which histograms of every parameter tensor are written;
    /// the last epoch always gets them.
    pub histogram_epochs: Vec<usize>,
    /// Buckets per histogram.
    pub bins: usize,
    /// How many samples (the validation set's first, or the training set's without one)
    /// are run forward for the activation histograms.
    pub probe_samples: usize,
    /// The input's shape as an image, `(height, width)`, for `first_layer.png`; `None`
    /// takes a square input's side (28 x 28 for 784 inputs) and draws no grid for another
    /// width.
    pub input_image: Option<(usize, usize)>,
    /// With the `plots` feature, whether `fit` draws the figures and `report.html` after the
    /// last epoch (`constnet::plots`); without it, this does nothing. A search over many
    /// short runs may leave them off and draw only the best run's.
    pub figures: bool,
}

impl Record {
    /// Records into `dir`, with histograms after the first and the last epoch, 30 buckets
    /// each, activations over 256 samples.
    ///
    /// ```
    /// let record = constnet::record::Record::new("runs/mnist");
    /// assert_eq!((record.histogram_epochs, record.bins, record.probe_samples), (vec![1], 30, 256));
    /// ```
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Record {
            dir: dir.as_ref().to_path_buf(),
            histogram_epochs: vec![1],
            bins: 30,
            probe_samples: 256,
            input_image: None,
            figures: true,
        }
    }
}

/// Seconds since the Unix epoch, TensorBoard's wall time.
fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One step's numbers, for [`Recorder::step`].
pub(crate) struct StepRow<'a> {
    pub epoch: usize,
    pub step: u64,
    pub loss: f64,
    pub accuracy: Option<f64>,
    pub learning_rate: f64,
    pub tensors: &'a [TensorStats],
}

/// The open files of a run being recorded.
pub(crate) struct Recorder {
    /// What to record, and where (`record.dir`).
    record: Record,
    csv: BufWriter<File>,
    activations: BufWriter<File>,
    histograms: BufWriter<File>,
    events: EventWriter,
    events_path: PathBuf,
    /// One step's CSV row, reused.
    row: String,
    /// A tag, reused.
    tag: String,
    /// The run's last epoch, which always gets histograms.
    epochs: usize,
}

impl Recorder {
    /// Creates the directory and its files, and writes the CSV headers; for a `resumed`
    /// run, appends to the tables already there instead.
    pub fn create<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        record: &Record,
        net: &N,
        epochs: usize,
        resumed: bool,
    ) -> Result<Self, Error> {
        Self::create_for(record, &net.param_names(), IN, epochs, resumed)
    }

    /// [`create`](Self::create) for a network whose parameter tensors are `names`, from
    /// `inputs` inputs. (The generic methods gather what they need from the network and
    /// call a plain one, compiled once in constnet rather than in every program.)
    fn create_for(
        record: &Record,
        names: &[String],
        inputs: usize,
        epochs: usize,
        resumed: bool,
    ) -> Result<Self, Error> {
        if let Some((height, width)) = record.input_image
            && height.checked_mul(width) != Some(inputs)
        {
            return Err(Error::BadHyperparameter {
                name: "record input_image",
                value: height as f64 * width as f64,
                expected: "height x width equal to the network's input width",
            });
        }
        if record.bins == 0 {
            return Err(Error::BadHyperparameter {
                name: "record bins",
                value: 0.0,
                expected: "at least 1",
            });
        }
        let dir = &record.dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        // A table of the run, with its header; a resumed run appends to the one there.
        let table = |name: &str, header: &str| -> Result<BufWriter<File>, Error> {
            let path = dir.join(name);
            let append = resumed && path.is_file();
            let file = File::options()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            let mut file = BufWriter::new(file);
            if !append {
                writeln!(file, "{header}").map_err(|e| Error::io(&path, e))?;
            }
            Ok(file)
        };
        let mut header = String::from(
            "kind,epoch,step,loss,accuracy,learning_rate,val_loss,val_accuracy,seconds",
        );
        for name in names {
            let _ = write!(header, ",update_ratio:{name},grad_norm:{name}");
        }
        let csv = table("metrics.csv", &header)?;
        let activations = table(
            "activations.csv",
            "epoch,step,layer,kind,samples,units,mean,std,dead_fraction,saturated_fraction",
        )?;
        let histograms = table("histograms.csv", "epoch,step,kind,name,lower,upper,count")?;
        let now = wall_time();
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty() && !h.contains(['/', '\\']))
            .unwrap_or_else(|| "localhost".into());
        let events_path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}.constnet",
            now as u64,
            std::process::id()
        ));
        let events =
            EventWriter::create(&events_path, now).map_err(|e| Error::io(&events_path, e))?;
        Ok(Recorder {
            record: record.clone(),
            csv,
            activations,
            histograms,
            events,
            events_path,
            // Sized for the longest row and tag, so that steps never grow them.
            row: String::with_capacity(128 + 64 * names.len()),
            tag: String::with_capacity(32 + names.iter().map(String::len).max().unwrap_or(0)),
            epochs,
        })
    }

    fn csv_error(&self, e: std::io::Error) -> Error {
        Error::io(&self.record.dir.join("metrics.csv"), e)
    }

    fn events_error(&self, e: std::io::Error) -> Error {
        Error::io(&self.events_path, e)
    }

    /// `prefix/<tensor>` scalars for every tensor: its update ratio and gradient norm.
    fn tensor_scalars(
        &mut self,
        step: u64,
        time: f64,
        tensors: &[TensorStats],
    ) -> Result<(), Error> {
        for t in tensors {
            for (prefix, value) in [
                ("update_ratio", t.update_ratio()),
                ("grad_norm", t.grad_norm),
            ] {
                self.tag.clear();
                let _ = write!(self.tag, "{prefix}/{}", t.name);
                self.events
                    .scalar(&self.tag, step, time, value)
                    .map_err(|e| self.events_error(e))?;
            }
        }
        Ok(())
    }

    /// The ratio and norm columns of a row.
    fn tensor_columns(row: &mut String, tensors: &[TensorStats]) {
        for t in tensors {
            let _ = write!(row, ",{},{}", t.update_ratio(), t.grad_norm);
        }
    }

    /// A step's row and scalars.
    pub fn step(&mut self, s: &StepRow<'_>) -> Result<(), Error> {
        self.row.clear();
        let _ = write!(self.row, "step,{},{},{},", s.epoch, s.step, s.loss);
        if let Some(a) = s.accuracy {
            let _ = write!(self.row, "{a}");
        }
        let _ = write!(self.row, ",{},,,", s.learning_rate);
        Self::tensor_columns(&mut self.row, s.tensors);
        self.row.push('\n');
        self.csv
            .write_all(self.row.as_bytes())
            .map_err(|e| self.csv_error(e))?;
        let time = wall_time();
        let mut scalar = |tag: &str, value: f64| self.events.scalar(tag, s.step, time, value);
        let written = scalar("train/loss", s.loss)
            .and_then(|()| scalar("train/learning_rate", s.learning_rate))
            .and_then(|()| match s.accuracy {
                Some(a) => scalar("train/accuracy", a),
                None => Ok(()),
            });
        written.map_err(|e| self.events_error(e))?;
        self.tensor_scalars(s.step, time, s.tensors)
    }

    /// An epoch's row and scalars, after its last step `step`, and if it is one of the
    /// chosen epochs the histograms of `net`'s tensors, of their gradients `grads` and of
    /// every layer's output over the first samples of `probe`. Flushes the files. Only the
    /// gathering of those values depends on the network; what is written of them is
    /// [`epoch_of`](Self::epoch_of), compiled once in constnet rather than in every
    /// program that trains a network.
    pub fn epoch<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        &mut self,
        stats: &EpochStats,
        step: u64,
        tensors: &[TensorStats],
        net: &N,
        grads: &[T],
        probe: &Batch<T, IN>,
    ) -> Result<(), Error> {
        let chosen =
            self.record.histogram_epochs.contains(&stats.epoch) || stats.epoch == self.epochs;
        let snapshot = chosen.then(|| Snapshot::of(net, grads, probe, self.record.probe_samples));
        self.epoch_of(stats, step, tensors, snapshot.as_ref())
    }

    /// What [`epoch`](Self::epoch) writes: the row and scalars, and the histograms of the
    /// `snapshot` when there is one.
    fn epoch_of(
        &mut self,
        stats: &EpochStats,
        step: u64,
        tensors: &[TensorStats],
        snapshot: Option<&Snapshot>,
    ) -> Result<(), Error> {
        let time = self.epoch_row(stats, step, tensors)?;
        if let Some(snapshot) = snapshot {
            let at = (stats.epoch, step, time);
            for (name, weights, gradients) in &snapshot.tensors {
                self.values_histogram(at, "weights", name, weights)?;
                self.values_histogram(at, "gradients", name, gradients)?;
            }
            self.write_activations(at, &snapshot.layers, &snapshot.outputs, snapshot.samples)?;
            self.histograms
                .flush()
                .map_err(|e| Error::io(&self.record.dir.join("histograms.csv"), e))?;
        }
        self.events.flush().map_err(|e| self.events_error(e))
    }

    /// An epoch's row and scalars: what [`epoch`](Self::epoch) writes every epoch. Returns
    /// the time they are written at.
    fn epoch_row(
        &mut self,
        stats: &EpochStats,
        step: u64,
        tensors: &[TensorStats],
    ) -> Result<f64, Error> {
        let row = &mut self.row;
        row.clear();
        let _ = write!(row, "epoch,{},{step},{},", stats.epoch, stats.train_loss);
        let optional = |row: &mut String, value: Option<f64>| {
            if let Some(v) = value {
                let _ = write!(row, "{v}");
            }
        };
        optional(row, stats.train_accuracy);
        let _ = write!(row, ",{},", stats.learning_rate);
        optional(row, stats.val_loss);
        row.push(',');
        optional(row, stats.val_accuracy);
        let _ = write!(row, ",{}", stats.seconds);
        Self::tensor_columns(row, tensors);
        row.push('\n');
        self.csv
            .write_all(self.row.as_bytes())
            .map_err(|e| self.csv_error(e))?;
        self.csv.flush().map_err(|e| self.csv_error(e))?;
        let time = wall_time();
        let scalars = [
            ("epoch/train_loss", Some(stats.train_loss)),
            ("epoch/train_accuracy", stats.train_accuracy),
            ("epoch/val_loss", stats.val_loss),
            ("epoch/val_accuracy", stats.val_accuracy),
        ];
        for (tag, value) in scalars {
            if let Some(value) = value {
                self.events
                    .scalar(tag, step, time, value)
                    .map_err(|e| self.events_error(e))?;
            }
        }
        Ok(time)
    }

    /// A histogram into the event file (`kind/name`) and `histograms.csv`.
    fn histogram(
        &mut self,
        (epoch, step, time): (usize, u64, f64),
        kind: &str,
        name: &str,
        histogram: &Histogram,
    ) -> Result<(), Error> {
        self.events
            .histogram(&format!("{kind}/{name}"), step, time, histogram)
            .map_err(|e| self.events_error(e))?;
        let mut lower = histogram.min;
        for (&upper, &count) in histogram.limits.iter().zip(&histogram.counts) {
            writeln!(
                self.histograms,
                "{epoch},{step},{kind},{name},{lower},{upper},{count}"
            )
            .map_err(|e| Error::io(&self.record.dir.join("histograms.csv"), e))?;
            lower = upper;
        }
        Ok(())
    }

    /// The histogram of `values` (see [`histogram`](Self::histogram)).
    fn values_histogram(
        &mut self,
        at: (usize, u64, f64),
        kind: &str,
        name: &str,
        values: &[f64],
    ) -> Result<(), Error> {
        let histogram = Histogram::of(values.iter().copied(), self.record.bins);
        self.histogram(at, kind, name, &histogram)
    }

    /// Every layer's output over `samples` samples (`outputs`, one vector per layer): a
    /// histogram, its row of `activations.csv`, and the dead or saturated fraction as a
    /// scalar.
    fn write_activations(
        &mut self,
        at: (usize, u64, f64),
        layers: &[LayerInfo],
        outputs: &[Vec<f64>],
        samples: usize,
    ) -> Result<(), Error> {
        let (epoch, step, time) = at;
        for (layer, values) in layers.iter().zip(outputs) {
            let activity = Activity::of(layer.kind, values, layer.outputs, samples);
            let blank = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
            writeln!(
                self.activations,
                "{epoch},{step},{},{},{samples},{},{},{},{},{}",
                layer.name,
                layer.kind,
                layer.outputs,
                activity.mean,
                activity.std,
                blank(activity.dead),
                blank(activity.saturated)
            )
            .map_err(|e| Error::io(&self.record.dir.join("activations.csv"), e))?;
            let histogram = Histogram::of(values.iter().copied(), self.record.bins);
            self.histogram(at, "activations", layer.name, &histogram)?;
            for (prefix, value) in [
                ("dead_fraction", activity.dead),
                ("saturated_fraction", activity.saturated),
            ] {
                if let Some(value) = value {
                    self.events
                        .scalar(&format!("{prefix}/{}", layer.name), step, time, value)
                        .map_err(|e| self.events_error(e))?;
                }
            }
        }
        self.activations
            .flush()
            .map_err(|e| Error::io(&self.record.dir.join("activations.csv"), e))
    }

    /// Flushes the files (after the last epoch, or when the run stops with an error).
    pub fn finish(&mut self) -> Result<(), Error> {
        self.csv.flush().map_err(|e| self.csv_error(e))?;
        self.events.flush().map_err(|e| self.events_error(e))
    }

    /// Writes `first_layer.png`, when the input is an image and the first tensor is a
    /// weight matrix over the inputs.
    pub fn first_layer<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        &self,
        net: &N,
    ) -> Result<(), Error> {
        let side = (IN as f64).sqrt().round() as usize;
        let Some((height, width)) = self
            .record
            .input_image
            .or((side * side == IN).then_some((side, side)))
        else {
            return Ok(());
        };
        let mut first = None;
        net.for_each_tensor(&mut |t| {
            if first.is_none() {
                first = Some(t);
            }
        });
        let Some(t) = first.filter(|t| t.spec.shape.len() == 2 && t.spec.shape[1] == IN) else {
            return Ok(());
        };
        let mut raw = Vec::with_capacity(t.spec.len());
        extend_as_f64(&mut raw, &net.params()[t.range()]);
        self.write_first_layer(t.spec, &raw, (height, width))
    }

    /// `first_layer.png`, from the first layer's weight tensor `spec`, whose values are `raw`
    /// as the parameter buffer holds them.
    fn write_first_layer(
        &self,
        spec: &TensorSpec,
        raw: &[f64],
        (height, width): (usize, usize),
    ) -> Result<(), Error> {
        // In PyTorch's layout, `[out, in]` row-major: a unit's weights are one row.
        let mut weights = vec![0.0; raw.len()];
        in_pytorch_order(spec, raw, &mut weights);
        let units = spec.shape[0];
        let (w, h, pixels) = weight_grid(&weights, units, (height, width));
        let path = self.record.dir.join("first_layer.png");
        let png = crate::png::encode(w, h, crate::png::Color::Gray, &pixels);
        std::fs::write(&path, png).map_err(|e| Error::io(&path, e))
    }
}

/// What [`Recorder::epoch`] gathers from the network for an epoch's histograms, as `f64`.
struct Snapshot {
    /// Every parameter tensor's name, values and gradient.
    tensors: Vec<(String, Vec<f64>, Vec<f64>)>,
    /// The layers, in order.
    layers: Vec<LayerInfo>,
    /// Every layer's output over the first `samples` samples of the probe, one vector per
    /// layer, sample after sample.
    outputs: Vec<Vec<f64>>,
    /// How many samples of the probe went through.
    samples: usize,
}

impl Snapshot {
    /// `net`'s tensors with their gradients `grads`, and its layers' outputs over the first
    /// `probe_samples` samples of `probe` (or all of them, if fewer).
    fn of<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
        net: &N,
        grads: &[T],
        probe: &Batch<T, IN>,
        probe_samples: usize,
    ) -> Self {
        let mut ranges = Vec::new();
        net.for_each_tensor(&mut |t| ranges.push((t.name(), t.range())));
        let as_f64 = |values: &[T]| {
            let mut out = Vec::with_capacity(values.len());
            extend_as_f64(&mut out, values);
            out
        };
        let tensors = ranges
            .into_iter()
            .map(|(name, range)| {
                let weights = as_f64(&net.params()[range.clone()]);
                (name, weights, as_f64(&grads[range]))
            })
            .collect();
        let samples = probe_samples.min(probe.ncols());
        let layers = net.layers();
        let mut outputs: Vec<Vec<f64>> = layers
            .iter()
            .map(|l| Vec::with_capacity(samples * l.outputs))
            .collect();
        for j in 0..samples {
            let mut i = 0;
            net.for_each_activation(&probe.column(j), &mut |_, h| {
                extend_as_f64(&mut outputs[i], h);
                i += 1;
            });
        }
        Snapshot {
            tensors,
            layers,
            outputs,
            samples,
        }
    }
}

/// How many screen pixels a weight takes in `first_layer.png` (each way), and the gap
/// between tiles.
pub(crate) const GRID_SCALE: usize = 2;
pub(crate) const GRID_GAP: usize = 2;

/// The first layer's `units` rows of weights (row-major, `height * width` each) as a grid
/// of tiles, each rescaled on its own to 0 (its minimum) to 255 (its maximum), 128 where
/// all its weights are equal, on a gray (96) background: the image's width, height and
/// rows of pixels.
pub(crate) fn weight_grid(
    weights: &[f64],
    units: usize,
    (height, width): (usize, usize),
) -> (u32, u32, Vec<u8>) {
    let columns = (units as f64).sqrt().ceil().max(1.0) as usize;
    let rows = units.div_ceil(columns).max(1);
    let tile = |n: usize| n * GRID_SCALE + GRID_GAP;
    let (w, h) = (
        columns * tile(width) + GRID_GAP,
        rows * tile(height) + GRID_GAP,
    );
    let mut pixels = vec![96u8; w * h];
    for unit in 0..units {
        let row = &weights[unit * height * width..(unit + 1) * height * width];
        let (min, max) = row
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (x0, y0) = (
            GRID_GAP + (unit % columns) * tile(width),
            GRID_GAP + (unit / columns) * tile(height),
        );
        for (i, &v) in row.iter().enumerate() {
            let shade = if max > min {
                (255.0 * (v - min) / (max - min)).round() as u8
            } else {
                128
            };
            let (r, c) = (i / width, i % width);
            for dy in 0..GRID_SCALE {
                for dx in 0..GRID_SCALE {
                    pixels[(y0 + r * GRID_SCALE + dy) * w + x0 + c * GRID_SCALE + dx] = shade;
                }
            }
        }
    }
    (w as u32, h as u32, pixels)
}

/// A layer's output over a probe batch, summed up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Activity {
    pub mean: f64,
    pub std: f64,
    /// For a ReLU: the fraction of its units that are zero for every sample.
    pub dead: Option<f64>,
    /// For tanh and sigmoid: the fraction of values within 0.01 of the ends of the range.
    pub saturated: Option<f64>,
}

impl Activity {
    /// The activity of a layer of kind `kind` whose `units` outputs for `samples` samples
    /// are `values`, sample after sample.
    pub fn of(kind: &str, values: &[f64], units: usize, samples: usize) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let fraction = |count: usize, of: usize| count as f64 / of.max(1) as f64;
        let dead = (kind == "Relu").then(|| {
            let dead = (0..units)
                .filter(|&u| (0..samples).all(|j| values[j * units + u] <= 0.0))
                .count();
            fraction(dead, units)
        });
        let saturated = match kind {
            "Tanh" => Some(values.iter().filter(|v| v.abs() > 0.99).count()),
            "Sigmoid" => Some(
                values
                    .iter()
                    .filter(|&&v| !(0.01..=0.99).contains(&v))
                    .count(),
            ),
            _ => None,
        }
        .map(|count| fraction(count, values.len()));
        Activity {
            mean,
            std,
            dead,
            saturated,
        }
    }
}

/// `values` appended to `out` as `f64`. Not inlined: inlined, it was copied and unrolled into
/// every layer's step of the network's activations pass, once per width.
#[inline(never)]
fn extend_as_f64<T: Float>(out: &mut Vec<f64>, values: &[T]) {
    out.extend(values.iter().map(|v| v.as_f64()));
}

#[cfg(test)]
mod tests {
    use super::Activity;

    #[test]
    fn dead_relus_and_saturated_tanh_units_are_counted() {
        // Three samples of four ReLU units: unit 1 never fires, unit 3 fires once.
        let relu = [0.5, 0.0, 1.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.1, 0.0, 0.3, 2.0];
        let a = Activity::of("Relu", &relu, 4, 3);
        assert_eq!((a.dead, a.saturated), (Some(0.25), None));
        assert!((a.mean - 4.1 / 12.0).abs() < 1e-12);
        let tanh = [0.999, -0.995, 0.5, 0.0];
        assert_eq!(Activity::of("Tanh", &tanh, 2, 2).saturated, Some(0.5));
        let sigmoid = [0.005, 0.5, 0.995, 0.2];
        assert_eq!(Activity::of("Sigmoid", &sigmoid, 4, 1).saturated, Some(0.5));
        let dense = Activity::of("Dense", &tanh, 2, 2);
        assert_eq!((dense.dead, dense.saturated), (None, None));
    }
}
