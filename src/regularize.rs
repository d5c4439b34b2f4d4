//! Regularization added to the loss and its gradient.

use crate::{Float, Network};

/// The L2 penalty on every weight tensor (biases excluded), as the CS231n notes write it:
/// adds `lambda * w` to each weight's gradient and returns `0.5 * lambda * sum(w^2)` to add
/// to the loss. Allocates nothing.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 1> } }
/// let mut net = Net::new(0);
/// net.write_param("fc.weight", &[3.0, 4.0])?;
/// let mut grads = net.new_grads();
/// assert_eq!(l2(&net, &mut grads, 0.1), 0.5 * 0.1 * 25.0);
/// assert_eq!(net.param("fc.weight")?, [3.0, 4.0]);
/// assert_eq!(&grads[..2], &[0.3f32, 0.4]);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn l2<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
    net: &N,
    grads: &mut [T],
    lambda: f64,
) -> T {
    let lambda = T::of_f64(lambda);
    let params = net.params();
    let mut sum = T::ZERO;
    net.for_each_tensor(&mut |t| {
        if t.is_weight() {
            let range = t.range();
            for (g, &w) in grads[range.clone()].iter_mut().zip(&params[range]) {
                *g += lambda * w;
                sum += w * w;
            }
        }
    });
    T::of_f64(0.5) * lambda * sum
}
