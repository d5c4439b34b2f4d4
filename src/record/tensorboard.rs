//! TensorBoard's event files, written directly: a sequence of records (TFRecord framing),
//! each an `Event` protocol buffer holding a wall time, a step and a `Summary` of tagged
//! scalars or histograms. The few messages and fields used are encoded here by hand, as
//! TensorBoard's `event.proto`, `summary.proto` and `histogram.proto` number them, so no
//! protobuf crate is needed; the buffers are kept and reused, so writing a scalar allocates
//! nothing once they have grown.
//!
//! | framing of one record | |
//! |---|---|
//! | length | `u64`, little-endian |
//! | masked CRC-32C of the length | `u32` |
//! | data | `length` bytes |
//! | masked CRC-32C of the data | `u32` |

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::crc::crc32c;

/// TFRecord's masked CRC: rotated right by 15 and offset, so that a CRC of data that holds
/// CRCs is not degenerate.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Protocol buffer wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH: u8 = 2;
const FIXED32: u8 = 5;

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u8, wire: u8) {
    out.push((field << 3) | wire);
}

fn double(out: &mut Vec<u8>, field: u8, value: f64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

fn bytes_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    key(out, field, LENGTH);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A histogram as TensorBoard's `HistogramProto` holds it: bucket `i` counts the values in
/// `(limits[i - 1], limits[i]]` (the first from `min`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub sum_squares: f64,
    pub limits: Vec<f64>,
    pub counts: Vec<f64>,
}

impl Histogram {
    /// `bins` equal-width buckets over the values' range (one bucket when they are all
    /// equal, none when there are none). Non-finite values are not counted.
    pub fn of(values: impl Iterator<Item = f64> + Clone, bins: usize) -> Self {
        let finite = values.filter(|v| v.is_finite());
        let (mut min, mut max, mut sum, mut sum_squares, mut num) =
            (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0, 0usize);
        for v in finite.clone() {
            min = min.min(v);
            max = max.max(v);
            sum += v;
            sum_squares += v * v;
            num += 1;
        }
        if num == 0 {
            return Histogram {
                min: 0.0,
                max: 0.0,
                sum: 0.0,
                sum_squares: 0.0,
                limits: Vec::new(),
                counts: Vec::new(),
            };
        }
        let bins = if max > min { bins.max(1) } else { 1 };
        let width = (max - min) / bins as f64;
        let limits: Vec<f64> = (1..=bins)
            .map(|i| {
                if i == bins {
                    max
                } else {
                    min + width * i as f64
                }
            })
            .collect();
        let mut counts = vec![0.0; bins];
        for v in finite {
            let at = if width > 0.0 {
                (((v - min) / width).ceil() as usize)
                    .saturating_sub(1)
                    .min(bins - 1)
            } else {
                0
            };
            counts[at] += 1.0;
        }
        Histogram {
            min,
            max,
            sum,
            sum_squares,
            limits,
            counts,
        }
    }

    /// How many values it counts.
    pub fn count(&self) -> f64 {
        self.counts.iter().sum()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        double(out, 1, self.min);
        double(out, 2, self.max);
        double(out, 3, self.count());
        double(out, 4, self.sum);
        double(out, 5, self.sum_squares);
        for (field, values) in [(6, &self.limits), (7, &self.counts)] {
            key(out, field, LENGTH);
            varint(out, 8 * values.len() as u64);
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// An open event file.
pub(crate) struct EventWriter {
    file: BufWriter<File>,
    value: Vec<u8>,
    summary: Vec<u8>,
    event: Vec<u8>,
}

impl EventWriter {
    /// Creates `path` and writes the file-version event every event file starts with.
    pub fn create(path: &Path, wall_time: f64) -> std::io::Result<Self> {
        let mut writer = EventWriter {
            file: BufWriter::new(File::create(path)?),
            // A scalar's event is under 100 bytes past its tag: room for any but a
            // histogram's, so that writing scalars never grows them.
            value: Vec::with_capacity(512),
            summary: Vec::with_capacity(512),
            event: Vec::with_capacity(512),
        };
        writer.event.clear();
        double(&mut writer.event, 1, wall_time);
        bytes_field(&mut writer.event, 3, b"brain.Event:2");
        writer.write_record()?;
        Ok(writer)
    }

    /// One scalar (`simple_value`, which TensorBoard shows under Scalars) at `step`.
    pub fn scalar(
        &mut self,
        tag: &str,
        step: u64,
        wall_time: f64,
        value: f64,
    ) -> std::io::Result<()> {
        self.value.clear();
        bytes_field(&mut self.value, 1, tag.as_bytes());
        key(&mut self.value, 2, FIXED32);
        self.value.extend_from_slice(&(value as f32).to_le_bytes());
        self.write_value(step, wall_time)
    }

    /// One histogram at `step`.
    pub fn histogram(
        &mut self,
        tag: &str,
        step: u64,
        wall_time: f64,
        histogram: &Histogram,
    ) -> std::io::Result<()> {
        self.value.clear();
        bytes_field(&mut self.value, 1, tag.as_bytes());
        let mut histo = Vec::new();
        histogram.encode(&mut histo);
        bytes_field(&mut self.value, 5, &histo);
        self.write_value(step, wall_time)
    }

    /// Wraps `self.value` in a summary and an event, and writes it.
    fn write_value(&mut self, step: u64, wall_time: f64) -> std::io::Result<()> {
        self.summary.clear();
        bytes_field(&mut self.summary, 1, &self.value);
        self.event.clear();
        double(&mut self.event, 1, wall_time);
        key(&mut self.event, 2, VARINT);
        varint(&mut self.event, step);
        bytes_field(&mut self.event, 5, &self.summary);
        self.write_record()
    }

    fn write_record(&mut self) -> std::io::Result<()> {
        let length = (self.event.len() as u64).to_le_bytes();
        self.file.write_all(&length)?;
        self.file.write_all(&masked_crc(&length).to_le_bytes())?;
        self.file.write_all(&self.event)?;
        self.file.write_all(&masked_crc(&self.event).to_le_bytes())
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_groups_of_seven_bits() {
        let mut out = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            varint(&mut out, v);
        }
        assert_eq!(
            out,
            [
                0, 1, 127, 0x80, 1, 0xac, 2, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1
            ]
        );
    }

    #[test]
    fn a_histogram_counts_every_finite_value_once_in_its_bucket() {
        let values = [0.0, 0.1, 0.5, 0.5, 0.99, 1.0, f64::NAN];
        let h = Histogram::of(values.iter().copied(), 4);
        assert_eq!(h.limits, [0.25, 0.5, 0.75, 1.0]);
        // (.., 0.25]: 0, 0.1; (0.25, 0.5]: 0.5 twice; (0.5, 0.75]: none; (0.75, 1]: 0.99, 1
        assert_eq!(h.counts, [2.0, 2.0, 0.0, 2.0]);
        assert_eq!((h.min, h.max, h.count()), (0.0, 1.0, 6.0));
        let flat = Histogram::of([3.0, 3.0].into_iter(), 10);
        assert_eq!((flat.limits, flat.counts), (vec![3.0], vec![2.0]));
        assert_eq!(Histogram::of(std::iter::empty(), 10).count(), 0.0);
    }
}
