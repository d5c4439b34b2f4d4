//! Full-batch training with a second-order method, L-BFGS or Newton's: the whole training
//! set is the objective, evaluated as often as the method asks (a line search evaluates it
//! several times per iteration, Newton's Hessian twice per parameter).

use super::check_set;
use crate::datasets::SetOf;
use crate::error::Error;
use crate::losses::TakesTargets;
use crate::network::{Network, Tape, loss_and_grad};
use crate::optim::{Lbfgs, MinimizeReport, Newton, Objective};
use crate::regularize::Regularizer;
use crate::scalar::Float;

/// Trains `net` on the whole of `train` with L-BFGS: the objective is the mean loss over
/// every sample (in training mode) plus `regularizer`'s penalty, and its gradient. The data
/// are checked as [`fit`](super::fit) checks them. Dropout's masks are drawn once, at the
/// first evaluation, and then held, so that the objective is a fixed function of the
/// parameters (L-BFGS's line search needs one); batch norm's running statistics move at
/// every evaluation. On an error `net`'s parameters are as they were.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::optim::LbfgsConfig;
/// use constnet::train::fit_lbfgs;
/// network! { struct Net { fc1: Dense<2, 32>, relu: Relu, fc2: Dense<32, 3> } }
/// let data = constnet::datasets::spiral::<f64>(100, 3, 0);
/// let mut net = Net::<f64>::init(0);
/// let mut lbfgs = LbfgsConfig { max_iterations: 300, max_evaluations: 400, ..Default::default() }
///     .build()?;
/// let l2 = Regularizer::l2(1e-3)?;
/// let report = fit_lbfgs(&mut net, &mut lbfgs, &SoftmaxCrossEntropy, &data, Some(&l2))?;
/// assert!(report.loss < 0.3, "{report:?}");
/// assert!(net.accuracy(&data.inputs, &data.labels)? > 0.95);
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn fit_lbfgs<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, L>(
    net: &mut N,
    lbfgs: &mut Lbfgs<T>,
    loss: &L,
    train: &D,
    regularizer: Option<&Regularizer>,
) -> Result<MinimizeReport, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    L: TakesTargets<T, OUT, D::Targets>,
{
    full_batch(net, loss, train, regularizer, |params, objective| {
        lbfgs.minimize(params, objective)
    })
}

/// Trains `net` on the whole of `train` with Newton's method ([`Newton`]), with the same
/// objective as [`fit_lbfgs`]: the penalty's curvature is in the Hessian, which comes from
/// differences of the objective's gradient. A network of more than
/// [`NewtonConfig::max_params`](crate::optim::NewtonConfig::max_params) parameters is an
/// error before anything runs.
///
/// ```
/// use constnet::prelude::*;
/// use constnet::optim::NewtonConfig;
/// use constnet::train::fit_newton;
/// network! { struct Net { fc1: Dense<2, 8>, act: Tanh, fc2: Dense<8, 3> } }
/// let data = constnet::datasets::spiral::<f64>(30, 3, 0);
/// let mut net = Net::<f64>::init(0);
/// let mut newton = NewtonConfig { max_iterations: 30, ..Default::default() }.build()?;
/// let report = fit_newton(&mut net, &mut newton, &SoftmaxCrossEntropy, &data, None)?;
/// assert!(report.loss < 0.5, "{report:?}");
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn fit_newton<D: SetOf<T, IN, OUT>, T, const IN: usize, const OUT: usize, N, L>(
    net: &mut N,
    newton: &mut Newton<T>,
    loss: &L,
    train: &D,
    regularizer: Option<&Regularizer>,
) -> Result<MinimizeReport, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    L: TakesTargets<T, OUT, D::Targets>,
{
    full_batch(net, loss, train, regularizer, |params, objective| {
        newton.minimize(params, objective)
    })
}

/// The full-batch objective of `net` (loss plus penalty, and its gradient) handed to
/// `method` over a copy of the parameters, which are written back to `net` after it.
fn full_batch<T, const IN: usize, const OUT: usize, N, L, D>(
    net: &mut N,
    loss: &L,
    train: &D,
    regularizer: Option<&Regularizer>,
    method: impl FnOnce(&mut [T], &mut Objective<'_, T>) -> Result<MinimizeReport, Error>,
) -> Result<MinimizeReport, Error>
where
    T: Float,
    N: Network<T, IN, OUT>,
    D: SetOf<T, IN, OUT>,
    L: TakesTargets<T, OUT, D::Targets>,
{
    check_set::<T, IN, OUT, D>(train.inputs(), train.targets(), "training")?;
    if let Some(regularizer) = regularizer {
        regularizer.check_in::<T>()?;
    }
    let inputs = train.inputs();
    let mut tape = net.new_tape(inputs.ncols());
    let mut params = net.params().to_vec();
    let mut first = true;
    let report = {
        let mut objective = |x: &[T], g: &mut [T]| {
            net.params_mut().copy_from_slice(x);
            let mut value = loss_and_grad(
                net,
                inputs.columns(0, inputs.ncols()),
                L::targets(D::targets_for(train.targets())),
                loss,
                &mut tape,
                g,
            )?;
            if first {
                tape.freeze_masks(true);
                first = false;
            }
            if let Some(regularizer) = regularizer {
                value += regularizer.apply(&*net, g);
            }
            Ok(value.as_f64())
        };
        method(&mut params, &mut objective)
    };
    // The parameters the method returns (the lowest point; the start after an error).
    net.params_mut().copy_from_slice(&params);
    report
}
