// A custom layer that keeps its width, declared as if it widened: `half` gets 100 features
// from the ReLU, so it produces 100, not the 16 written after it.
use constnet::prelude::*;

/// Halves its input, at any width: a layer that keeps its width.
#[derive(Debug, Clone, Copy, Default)]
pub struct Half;

impl<T: Float, const N: usize> Layer<T, N, N> for Half {
    const PARAMS: usize = 0;
    const TENSORS: &'static [constnet::TensorSpec] = &[];
    type Cache = ();
    fn kind(&self) -> &'static str {
        "Half"
    }
    fn new_cache(&self, _: usize) {}
    fn forward_one(&self, _: &[T], _: &[T], x: &Sample<T, N>) -> Sample<T, N> {
        x * T::of_f64(0.5)
    }
    fn forward(&self, _: &[T], _: &[T], x: BatchView<'_, T, N>, mut y: BatchViewMut<'_, T, N>) {
        y.copy_from(&(x * T::of_f64(0.5)));
    }
    fn backward(
        &self,
        _: &[T],
        _: BatchView<'_, T, N>,
        _: BatchView<'_, T, N>,
        _: &mut (),
        dy: BatchView<'_, T, N>,
        dx: Option<BatchViewMut<'_, T, N>>,
        _: &mut [T],
    ) {
        if let Some(mut dx) = dx {
            dx.copy_from(&(dy * T::of_f64(0.5)));
        }
    }
}

network! {
    /// The spiral net with a custom layer.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu,
        half: Half => 16,
        fc2: Dense<16, 3>,
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
