//! The notes' "window into the training process" as pictures (feature `plots`): the
//! figures of a run recorded by [`fit`](crate::train::fit) with
//! [`Config::record`](crate::train::Config), drawn from the run directory's files
//! ([`crate::record`]) as PNG and SVG, and a self-contained `report.html` that shows them
//! all, so a user opens one file in a browser. `fit` renders them after the last epoch.
//!
//! | file | what |
//! |---|---|
//! | `loss.png`, `loss_log.png` | every step's loss and each epoch's mean, linear and log scale |
//! | `accuracy.png` | training and validation accuracy per epoch (the overfitting gap), for a classifier |
//! | `update_ratios.png` | every parameter tensor's update/weight ratio per step, log scale, with the notes' 1e-3 marked and the band from 1e-4 to 1e-2 shaded |
//! | `activations_epoch<E>.png` | each layer's output histogram after epoch `E`, titled with the fraction of dead ReLU units or saturated tanh/sigmoid values |
//! | `gradients_epoch<E>.png` | each parameter tensor's gradient histogram after epoch `E` |
//! | `first_layer.png` | the first layer's weights as images (written by the recorder, see [`crate::record`]) |
//! | `report.html` | all of the above, the PNGs inlined, with the per-epoch table |
//!
//! [`decision_regions`] draws a 2-D classifier's regions with its data, as the notes' demos
//! do. Text needs a TrueType font: [`font`] finds one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::datasets::Labeled;
use crate::error::Error;
use crate::network::{Network, OnSample};
use crate::png::{Color as Pixels, encode};
use crate::scalar::Float;

/// The font family the figures use, once registered.
const FAMILY: &str = "sans-serif";

/// Where [`font`] looks for a TrueType font, after `CONSTNET_FONT`.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The TrueType font the figures' text is set in, registered once for the process: the
/// file named by the environment variable `CONSTNET_FONT`, else the first of DejaVu Sans,
/// Liberation Sans, FreeSans or Arial found where Linux distributions, macOS and Windows
/// put them. Without one, [`Error::NotApplicable`] says what to install; `fit` asks before
/// it trains.
///
/// ```
/// # if std::env::var_os("CONSTNET_FONT").is_none() && !std::path::Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists() { return Ok(()); }
/// let path = constnet::plots::font()?;
/// assert!(path.exists());
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn font() -> Result<PathBuf, Error> {
    static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let candidates = std::env::var_os("CONSTNET_FONT")
            .map(PathBuf::from)
            .into_iter()
            .chain(FONT_PATHS.iter().map(PathBuf::from));
        for path in candidates {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // Registered fonts live as long as the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Ok(path);
            }
        }
        Err(
            "no TrueType font for the figures' text: set CONSTNET_FONT to a .ttf file, or \
             install one (Debian and Ubuntu: fonts-dejavu-core)"
                .into(),
        )
    })
    .clone()
    .map_err(|what| Error::NotApplicable { what })
}

/// A figure that can draw itself on any plotters backend.
trait Figure {
    /// Its size in pixels.
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Any error of plotters, as text.
fn text<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Writes `<name>.png` and `<name>.svg` in `dir`; returns the PNG's path.
fn write_figure(dir: &Path, name: &str, figure: &impl Figure) -> Result<PathBuf, Error> {
    font()?;
    let (w, h) = figure.size();
    let fail = |path: &Path, problem: String| Error::io(path, problem);
    let png_path = dir.join(format!("{name}.png"));
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(|e| fail(&png_path, e))?;
        root.present().map_err(|e| fail(&png_path, text(e)))?;
    }
    std::fs::write(&png_path, encode(w, h, Pixels::Rgb, &rgb))
        .map_err(|e| fail(&png_path, e.to_string()))?;
    let svg_path = dir.join(format!("{name}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(|e| fail(&svg_path, e))?;
        root.present().map_err(|e| fail(&svg_path, text(e)))?;
    }
    std::fs::write(&svg_path, svg).map_err(|e| fail(&svg_path, e.to_string()))?;
    Ok(png_path)
}

/// A CSV file of the run as rows of named fields.
fn read_table(path: &Path) -> Result<Vec<BTreeMap<String, String>>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    Ok(lines
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        })
        .collect())
}

/// A field as a number; `None` when blank or not a number.
fn num(row: &BTreeMap<String, String>, column: &str) -> Option<f64> {
    row.get(column).and_then(|v| v.parse().ok())
}

/// The range of `values`, widened a little (and to a unit range around a single value).
fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        0.0..1.0
    } else if hi > lo {
        let pad = 0.03 * (hi - lo);
        lo - pad..hi + pad
    } else {
        lo - 0.5..hi + 0.5
    }
}

/// The positive range of `values` for a log axis.
fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() {
        lo / 1.5..hi * 1.5
    } else {
        1e-3..1.0
    }
}

/// Every step's loss and each epoch's mean (at the epoch's last step).
struct Loss {
    steps: Vec<(f64, f64)>,
    epochs: Vec<(f64, f64)>,
    log: bool,
}

impl Figure for Loss {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text)?;
        let x = range(self.steps.iter().map(|p| p.0));
        let title = if self.log { "loss (log scale)" } else { "loss" };
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(title, (FAMILY, 24))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        let steps = LineSeries::new(self.steps.iter().copied(), BLUE.mix(0.35));
        let epochs = self.epochs.iter().map(|&p| Circle::new(p, 4, RED.filled()));
        let epoch_line = LineSeries::new(self.epochs.iter().copied(), RED.stroke_width(2));
        macro_rules! finish {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("step")
                    .y_desc("loss")
                    .draw()
                    .map_err(text)?;
                chart
                    .draw_series(steps)
                    .map_err(text)?
                    .label("each step")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
                chart.draw_series(epoch_line).map_err(text)?;
                chart
                    .draw_series(epochs)
                    .map_err(text)?
                    .label("epoch mean")
                    .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.filled()));
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()
                    .map_err(text)?;
            }};
        }
        if self.log {
            let y = log_range(self.steps.iter().chain(&self.epochs).map(|p| p.1));
            finish!(builder.build_cartesian_2d(x, y.log_scale()).map_err(text)?);
        } else {
            let y = range(self.steps.iter().chain(&self.epochs).map(|p| p.1));
            finish!(
                builder
                    .build_cartesian_2d(x, y.start.min(0.0)..y.end)
                    .map_err(text)?
            );
        }
        Ok(())
    }
}

/// Training and validation accuracy per epoch.
struct Accuracy {
    train: Vec<(f64, f64)>,
    val: Vec<(f64, f64)>,
}

impl Figure for Accuracy {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text)?;
        let epochs = self.train.len().max(self.val.len()) as f64;
        let y = range(self.train.iter().chain(&self.val).map(|p| p.1 * 100.0));
        let mut chart = ChartBuilder::on(root)
            .caption("accuracy per epoch", (FAMILY, 24))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5..epochs + 0.5, y.start..y.end.min(100.5))
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy (%)")
            .draw()
            .map_err(text)?;
        for (points, color, label) in [
            (&self.train, BLUE, "training"),
            (&self.val, RED, "validation"),
        ] {
            if points.is_empty() {
                continue;
            }
            let percent = points.iter().map(|&(e, a)| (e, 100.0 * a));
            chart
                .draw_series(LineSeries::new(percent.clone(), color.stroke_width(2)))
                .map_err(text)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart
                .draw_series(percent.map(|p| Circle::new(p, 4, color.filled())))
                .map_err(text)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(text)?;
        Ok(())
    }
}

/// Every tensor's update/weight ratio per step.
struct UpdateRatios {
    tensors: Vec<(String, Vec<(f64, f64)>)>,
}

impl Figure for UpdateRatios {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text)?;
        let all = || self.tensors.iter().flat_map(|(_, p)| p.iter());
        let x = range(all().map(|p| p.0));
        let y = log_range(all().map(|p| p.1).chain([1e-4, 1e-2]));
        let mut chart = ChartBuilder::on(root)
            .caption("update / weight ratio per step (1e-3 marked)", (FAMILY, 24))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x.clone(), y.log_scale())
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("||update|| / ||w||")
            .draw()
            .map_err(text)?;
        chart
            .draw_series([Rectangle::new(
                [(x.start, 1e-4), (x.end, 1e-2)],
                GREEN.mix(0.08).filled(),
            )])
            .map_err(text)?;
        chart
            .draw_series(LineSeries::new(
                [(x.start, 1e-3), (x.end, 1e-3)],
                GREEN.stroke_width(2),
            ))
            .map_err(text)?
            .label("1e-3")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
        for (i, (name, points)) in self.tensors.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let positive = points.iter().copied().filter(|p| p.1 > 0.0);
            chart
                .draw_series(LineSeries::new(positive, color.stroke_width(1)))
                .map_err(text)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(text)?;
        Ok(())
    }
}

/// One histogram as buckets `(lower, upper, count)`, with its title.
type Buckets = (String, Vec<(f64, f64, f64)>);

/// Histograms side by side, one panel each.
struct Histograms {
    title: String,
    panels: Vec<Buckets>,
}

impl Figure for Histograms {
    fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(3).max(1) as u32;
        (1200, 60 + 280 * rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text)?;
        let body = root.titled(&self.title, (FAMILY, 24)).map_err(text)?;
        let rows = self.panels.len().div_ceil(3).max(1);
        let areas = body.split_evenly((rows, 3));
        for ((title, buckets), area) in self.panels.iter().zip(&areas) {
            let x = range(buckets.iter().flat_map(|b| [b.0, b.1]));
            let top = buckets.iter().map(|b| b.2).fold(0.0, f64::max).max(1.0) * 1.05;
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FAMILY, 16))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(56)
                .build_cartesian_2d(x, 0.0..top)
                .map_err(text)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(5)
                .y_labels(4)
                .y_label_formatter(&|count| format!("{count:.0}"))
                .draw()
                .map_err(text)?;
            chart
                .draw_series(buckets.iter().map(|&(lo, hi, count)| {
                    Rectangle::new([(lo, 0.0), (hi, count)], BLUE.mix(0.6).filled())
                }))
                .map_err(text)?;
        }
        Ok(())
    }
}

/// The figures' PNGs in the order the report shows them, with their captions.
struct Rendered {
    figures: Vec<(PathBuf, String)>,
}

/// Draws every figure of the run recorded in `dir` (PNG and SVG) and writes `report.html`;
/// returns the PNGs' paths, the report's last. `fit` calls it after the last epoch of a
/// recorded run; call it again on any run directory to redraw.
///
/// ```
/// # if constnet::plots::font().is_err() { return Ok(()); }
/// use constnet::prelude::*;
/// use constnet::record::Record;
/// use constnet::train::{Config, Progress, fit};
/// network! { struct Net { fc1: Dense<2, 16>, act: Tanh, fc2: Dense<16, 3> } }
/// let data = constnet::datasets::spiral::<f32>(30, 3, 0);
/// let dir = std::env::temp_dir().join(format!("constnet-doc-plots-{}", std::process::id()));
/// let config = Config { record: Some(Record::new(&dir)), progress: Progress::Silent, ..Config::new(2, 30) };
/// fit(&mut Net::new(0), &mut Sgd::new(0.5)?, &SoftmaxCrossEntropy, &data, Some(&data), &config)?;
/// let written = constnet::plots::render(&dir)?; // fit drew them already: this redraws
/// assert!(written.iter().any(|p| p.ends_with("loss_log.png")));
/// assert!(dir.join("report.html").exists() && dir.join("accuracy.svg").exists());
/// std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn render(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, Error> {
    let dir = dir.as_ref();
    let metrics = read_table(&dir.join("metrics.csv"))?;
    let mut rendered = Rendered {
        figures: Vec::new(),
    };
    let rows = |kind: &'static str| metrics.iter().filter(move |r| r["kind"] == kind);
    let steps: Vec<(f64, f64)> = rows("step")
        .filter_map(|r| Some((num(r, "step")?, num(r, "loss")?)))
        .collect();
    let epochs: Vec<(f64, f64)> = rows("epoch")
        .filter_map(|r| Some((num(r, "step")?, num(r, "loss")?)))
        .collect();
    for log in [false, true] {
        let name = if log { "loss_log" } else { "loss" };
        let figure = Loss {
            steps: steps.clone(),
            epochs: epochs.clone(),
            log,
        };
        let caption = if log {
            "Loss per step and per-epoch mean, log scale"
        } else {
            "Loss per step and per-epoch mean"
        };
        rendered
            .figures
            .push((write_figure(dir, name, &figure)?, caption.into()));
    }
    let per_epoch = |column: &str| -> Vec<(f64, f64)> {
        rows("epoch")
            .filter_map(|r| Some((num(r, "epoch")?, num(r, column)?)))
            .collect()
    };
    let accuracy = Accuracy {
        train: per_epoch("accuracy"),
        val: per_epoch("val_accuracy"),
    };
    if !accuracy.train.is_empty() || !accuracy.val.is_empty() {
        let caption = "Training accuracy (training mode, on each batch as it trained) and validation accuracy (evaluation mode) per epoch";
        rendered
            .figures
            .push((write_figure(dir, "accuracy", &accuracy)?, caption.into()));
    }
    let tensors: Vec<String> = metrics
        .first()
        .map(|r| {
            r.keys()
                .filter_map(|k| k.strip_prefix("update_ratio:").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let ratios = UpdateRatios {
        tensors: tensors
            .iter()
            .map(|t| {
                let column = format!("update_ratio:{t}");
                let points = rows("step")
                    .filter_map(|r| Some((num(r, "step")?, num(r, &column)?)))
                    .collect();
                (t.clone(), points)
            })
            .collect(),
    };
    if !ratios.tensors.is_empty() && !steps.is_empty() {
        let caption = "Update/weight ratio of every parameter tensor per step; the notes' rule of thumb is about 1e-3";
        rendered
            .figures
            .push((write_figure(dir, "update_ratios", &ratios)?, caption.into()));
    }
    histogram_figures(dir, &mut rendered)?;
    let first_layer = dir.join("first_layer.png");
    if first_layer.exists() {
        let caption = "First-layer weights, one tile per unit, each rescaled from black (its smallest weight) to white (its largest)";
        rendered.figures.push((first_layer, caption.into()));
    }
    let report = write_report(dir, &rendered, &metrics)?;
    let mut written: Vec<PathBuf> = rendered.figures.into_iter().map(|(p, _)| p).collect();
    written.push(report);
    Ok(written)
}

/// `activations_epoch<E>` and `gradients_epoch<E>` from `histograms.csv` and
/// `activations.csv`.
fn histogram_figures(dir: &Path, rendered: &mut Rendered) -> Result<(), Error> {
    let histograms = read_table(&dir.join("histograms.csv"))?;
    let activity = read_table(&dir.join("activations.csv"))?;
    let mut by_epoch: BTreeMap<(usize, String), Vec<Buckets>> = BTreeMap::new();
    for row in &histograms {
        let (Some(epoch), Some(lo), Some(hi), Some(count)) = (
            num(row, "epoch"),
            num(row, "lower"),
            num(row, "upper"),
            num(row, "count"),
        ) else {
            continue;
        };
        let panels = by_epoch
            .entry((epoch as usize, row["kind"].clone()))
            .or_default();
        match panels.last_mut() {
            Some((name, buckets)) if *name == row["name"] => buckets.push((lo, hi, count)),
            _ => panels.push((row["name"].clone(), vec![(lo, hi, count)])),
        }
    }
    for ((epoch, kind), mut panels) in by_epoch {
        if kind == "weights" {
            continue;
        }
        if kind == "activations" {
            for (name, _) in &mut panels {
                let row = activity
                    .iter()
                    .find(|r| num(r, "epoch") == Some(epoch as f64) && r["layer"] == *name);
                let note = row.and_then(|r| {
                    let kind = &r["kind"];
                    num(r, "dead_fraction")
                        .map(|d| format!("{kind}, {:.1}% dead units", 100.0 * d))
                        .or_else(|| {
                            num(r, "saturated_fraction")
                                .map(|s| format!("{kind}, {:.1}% saturated", 100.0 * s))
                        })
                        .or_else(|| Some(kind.clone()))
                });
                if let Some(note) = note {
                    *name = format!("{name} ({note})");
                }
            }
        }
        let (title, caption) = if kind == "activations" {
            (
                format!("layer outputs after epoch {epoch}"),
                format!(
                    "Each layer's outputs over the probe batch after epoch {epoch} (evaluation mode), with the fraction of dead ReLU units or saturated tanh/sigmoid values"
                ),
            )
        } else {
            (
                format!("gradients after epoch {epoch}"),
                format!("Each parameter tensor's gradient at the last step of epoch {epoch}"),
            )
        };
        let figure = Histograms { title, panels };
        let name = format!("{kind}_epoch{epoch}");
        rendered
            .figures
            .push((write_figure(dir, &name, &figure)?, caption));
    }
    Ok(())
}

/// Base64 (RFC 4648, with padding), for the PNGs inlined in the report.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// HTML's five special characters, escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `report.html`: every figure inlined, with its caption and a link to its SVG, then the
/// per-epoch table. A script counts the figures the browser decoded into the page's title
/// and footer (`figures: 7 of 7 shown`).
fn write_report(
    dir: &Path,
    rendered: &Rendered,
    metrics: &[BTreeMap<String, String>],
) -> Result<PathBuf, Error> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>constnet run</title>\n<style>body{font-family:sans-serif;max-width:1250px;margin:2em auto;padding:0 1em}figure{margin:2em 0}img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>\n</head>\n<body>\n",
    );
    let _ = writeln!(
        html,
        "<h1>constnet run: {}</h1>",
        escape(&dir.display().to_string())
    );
    for (path, caption) in &rendered.figures {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let svg = name.replace(".png", ".svg");
        let link = if dir.join(&svg).exists() {
            format!(" (<a href=\"{}\">SVG</a>)", escape(&svg))
        } else {
            String::new()
        };
        let _ = writeln!(
            html,
            "<figure>\n<img class=\"figure\" alt=\"{}\" src=\"data:image/png;base64,{}\">\n<figcaption>{} &mdash; <code>{}</code>{link}</figcaption>\n</figure>",
            escape(caption),
            base64(&bytes),
            escape(caption),
            escape(&name)
        );
    }
    html.push_str("<h2>Epochs</h2>\n<table>\n<tr><th>epoch</th><th>loss</th><th>accuracy</th><th>val loss</th><th>val accuracy</th><th>learning rate</th><th>seconds</th></tr>\n");
    for row in metrics.iter().filter(|r| r["kind"] == "epoch") {
        html.push_str("<tr>");
        for column in [
            "epoch",
            "loss",
            "accuracy",
            "val_loss",
            "val_accuracy",
            "learning_rate",
            "seconds",
        ] {
            let cell = num(row, column).map_or(String::new(), |v| {
                if column == "epoch" {
                    format!("{v}")
                } else {
                    format!("{v:.4}")
                }
            });
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n<p id=\"figures\"></p>\n<script>\nwindow.addEventListener('load', () => {\n  const all = document.querySelectorAll('img.figure');\n  const shown = [...all].filter(i => i.complete && i.naturalWidth > 0).length;\n  const text = `figures: ${shown} of ${all.length} shown`;\n  document.getElementById('figures').textContent = text;\n  document.title = text;\n});\n</script>\n</body>\n</html>\n");
    let path = dir.join("report.html");
    std::fs::write(&path, html).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// A 2-D classifier's decision regions over its data's range, each class's region in a
/// light color and its points in the dark one, as the notes' spiral demo draws them:
/// writes `<stem>.png` and `<stem>.svg` and returns the PNG's path.
///
/// ```
/// # if constnet::plots::font().is_err() { return Ok(()); }
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<2, 16>, act: Relu, fc2: Dense<16, 3> } }
/// let data = constnet::datasets::spiral::<f32>(50, 3, 0);
/// let stem = std::env::temp_dir().join(format!("constnet-doc-regions-{}", std::process::id()));
/// let png = constnet::plots::decision_regions(&Net::new(0), &data, &stem)?;
/// assert!(png.exists());
/// # std::fs::remove_file(&png).ok();
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn decision_regions<T, const OUT: usize, N>(
    net: &N,
    data: &Labeled<T, 2>,
    stem: impl AsRef<Path>,
) -> Result<PathBuf, Error>
where
    T: Float,
    N: Network<T, 2, OUT>,
{
    let stem = stem.as_ref();
    if data.is_empty() {
        return Err(Error::EmptySet {
            set: "decision regions",
        });
    }
    let (x, y) = (
        range(data.inputs.row(0).iter().map(|v| v.as_f64())),
        range(data.inputs.row(1).iter().map(|v| v.as_f64())),
    );
    const CELLS: usize = 90;
    let (dx, dy) = (
        (x.end - x.start) / CELLS as f64,
        (y.end - y.start) / CELLS as f64,
    );
    let mut cells = Vec::with_capacity(CELLS * CELLS);
    for i in 0..CELLS {
        for j in 0..CELLS {
            let (cx, cy) = (
                x.start + (i as f64 + 0.5) * dx,
                y.start + (j as f64 + 0.5) * dy,
            );
            let class = net.predict(&crate::Sample::<T, 2>::new(T::of_f64(cx), T::of_f64(cy)));
            cells.push((x.start + i as f64 * dx, y.start + j as f64 * dy, class));
        }
    }
    let points = data
        .inputs
        .column_iter()
        .zip(&data.labels)
        .map(|(c, &l)| (c[0].as_f64(), c[1].as_f64(), l))
        .collect();
    let figure = Regions {
        x,
        y,
        cell: (dx, dy),
        cells,
        points,
    };
    let dir = stem.parent().unwrap_or(Path::new("."));
    let name = stem.file_name().unwrap_or_default().to_string_lossy();
    write_figure(dir, &name, &figure)
}

/// A grid of predicted classes and the labeled points.
struct Regions {
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    cell: (f64, f64),
    cells: Vec<(f64, f64, usize)>,
    points: Vec<(f64, f64, usize)>,
}

impl Figure for Regions {
    fn size(&self) -> (u32, u32) {
        (640, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text)?;
        let mut chart = ChartBuilder::on(root)
            .caption("decision regions", (FAMILY, 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(self.x.clone(), self.y.clone())
            .map_err(text)?;
        chart.configure_mesh().disable_mesh().draw().map_err(text)?;
        let (dx, dy) = self.cell;
        chart
            .draw_series(self.cells.iter().map(|&(x, y, class)| {
                let color = Palette99::pick(class).mix(0.25);
                Rectangle::new([(x, y), (x + dx, y + dy)], color.filled())
            }))
            .map_err(text)?;
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&(x, y, class)| Circle::new((x, y), 3, Palette99::pick(class).filled())),
            )
            .map_err(text)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_follows_rfc_4648() {
        // RFC 4648, section 10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
