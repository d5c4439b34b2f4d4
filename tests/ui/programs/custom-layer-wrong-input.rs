// A custom layer with fixed widths (32 in, 8 out) placed after a 16-wide layer.
use constnet::prelude::*;
/// Averages groups of 4 features: a layer from exactly 32 features to 8.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pool4;

impl<T: Float> Layer<T, 32, 8> for Pool4 {
    const PARAMS: usize = 0;
    const TENSORS: &'static [constnet::TensorSpec] = &[];
    type Cache = ();
    fn kind(&self) -> &'static str {
        "Pool4"
    }
    fn new_cache(&self, _: usize) {}
    fn forward_one(&self, _: &[T], _: &[T], x: &Sample<T, 32>) -> Sample<T, 8> {
        Sample::from_fn(|i, _| {
            (x[4 * i] + x[4 * i + 1] + x[4 * i + 2] + x[4 * i + 3]) * T::of_f64(0.25)
        })
    }
    fn forward(&self, _: &[T], _: &[T], x: BatchView<'_, T, 32>, mut y: BatchViewMut<'_, T, 8>) {
        for j in 0..x.ncols() {
            for i in 0..8 {
                y[(i, j)] =
                    (x[(4 * i, j)] + x[(4 * i + 1, j)] + x[(4 * i + 2, j)] + x[(4 * i + 3, j)])
                        * T::of_f64(0.25);
            }
        }
    }
    fn backward(
        &self,
        _: &[T],
        _: BatchView<'_, T, 32>,
        _: BatchView<'_, T, 8>,
        _: &mut (),
        dy: BatchView<'_, T, 8>,
        dx: Option<BatchViewMut<'_, T, 32>>,
        _: &mut [T],
    ) {
        if let Some(mut dx) = dx {
            for j in 0..dy.ncols() {
                for i in 0..32 {
                    dx[(i, j)] = dy[(i / 4, j)] * T::of_f64(0.25);
                }
            }
        }
    }
}

network! {
    /// The spiral net with a pooling layer.
    pub struct SpiralNet {
        fc1: Dense<2, 16>,
        relu: Relu,
        pool: Pool4 => 8,
        fc2: Dense<8, 3>,
    }
}

fn main() -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = SpiralNet::new(0);
    let mut tape = net.new_tape(300);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(1.0)?;
    let l2 = Regularizer::l2(1e-3)?;
    for step in 0..10_000 {
        let loss = net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        let penalty = l2.apply(&net, &mut grads);
        sgd.step(net.params_mut(), &grads)?;
        if step % 1000 == 0 {
            println!("step {step}: loss {:.4}", loss + penalty);
        }
    }
    println!(
        "training accuracy: {:.2}%",
        100.0 * net.accuracy(&data.inputs, &data.labels)?
    );
    let point = Sample::<f32, 2>::new(0.5, -0.25);
    let scores = net.forward(&point);
    println!("scores {scores:?}, class {}", net.predict(&point));
    Ok(())
}
