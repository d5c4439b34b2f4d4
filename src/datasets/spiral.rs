//! The CS231n spiral: a 2-D, 3-class problem no linear classifier solves.

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use super::Labeled;
use crate::batch::Batch;
use crate::scalar::Float;

/// The CS231n spiral data: `classes` arms of `points` 2-D points each, reproducible from
/// `seed`. As in the notes, arm `j` has radius `r = linspace(0, 1)` and angle
/// `t = linspace(4j, 4(j + 1)) + 0.2 N(0, 1)`, and the point is `(r sin t, r cos t)`.
///
/// ```
/// let data = constnet::datasets::spiral::<f64>(100, 3, 0);
/// assert_eq!(data.inputs.ncols(), 300);
/// assert_eq!(data.labels[150], 1);
/// ```
pub fn spiral<T: Float>(points: usize, classes: usize, seed: u64) -> Labeled<T, 2> {
    let mut rng = crate::SeededRng::seed_from_u64(seed);
    let mut inputs = Batch::<T, 2>::zeros(points * classes);
    let mut labels = Vec::with_capacity(points * classes);
    let step = |i: usize| {
        if points > 1 {
            i as f64 / (points - 1) as f64
        } else {
            0.0
        }
    };
    for class in 0..classes {
        for i in 0..points {
            let r = step(i);
            let noise: f64 = rng.sample(StandardNormal);
            let t = 4.0 * class as f64 + 4.0 * step(i) + 0.2 * noise;
            let column = class * points + i;
            inputs[(0, column)] = T::of_f64(r * t.sin());
            inputs[(1, column)] = T::of_f64(r * t.cos());
            labels.push(class);
        }
    }
    Labeled { inputs, labels }
}
