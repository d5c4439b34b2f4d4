//! W3's five large matrix products alone, at batch 64, each in the layout the network's
//! training step gives it (`-- products` in `best_of`): where W3's step falls short of the
//! peak, product by product.

use std::hint::black_box;

use constnet_kernels::{Compiled, Epilogue, Operand, OperandMut, Product, detect_isa};

/// `len` floats starting on a cache line, as a network's parameter buffer does (the packed
/// product reads such an `A` in place), with values in `[-0.5, 0.5)`.
struct Aligned {
    buffer: Vec<f32>,
    start: usize,
}

impl Aligned {
    fn new(len: usize, seed: usize) -> Self {
        let mut buffer: Vec<f32> = (0..len + 16)
            .map(|i| ((i + seed) * 7919 % 1009) as f32 / 1009.0 - 0.5)
            .collect();
        let start = buffer.as_ptr().align_offset(64);
        buffer.truncate(start + len);
        Aligned { buffer, start }
    }

    fn get(&self) -> &[f32] {
        &self.buffer[self.start..]
    }

    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.buffer[self.start..]
    }
}

/// Each product's name, FLOPs and least time over `batches` batches of `calls` calls, via
/// `best_of`.
pub fn w3_products(
    best_of: impl Fn(usize, usize, &mut dyn FnMut()) -> f64,
) -> Vec<(String, f64, f64)> {
    let isa = detect_isa();
    let (w1, x, dy1) = (
        Aligned::new(256 * 784, 1),
        Aligned::new(784 * 64, 2),
        Aligned::new(256 * 64, 3),
    );
    let (w2, h1, dy2) = (
        Aligned::new(128 * 256, 4),
        Aligned::new(256 * 64, 5),
        Aligned::new(128 * 64, 6),
    );
    let (b1, b2) = (Aligned::new(256, 7), Aligned::new(128, 8));
    let (mut w1_step, mut w2_step) = (Aligned::new(256 * 784, 1), Aligned::new(128 * 256, 4));
    let (mut y1, mut y2, mut dh1) = (
        Aligned::new(256 * 64, 9),
        Aligned::new(128 * 64, 10),
        Aligned::new(256 * 64, 11),
    );
    let flops = |m: usize, k: usize, n: usize| 2.0 * (m * k * n) as f64;
    let mut out = Vec::new();
    let mut time = |name: &str, flops: f64, product: &mut dyn FnMut()| {
        out.push((name.to_string(), flops, best_of(50, 20, product)));
    };
    // Forward: H1 = relu(W1 X + b1), H2 = relu(W2 H1 + b2), `A` the weights in place.
    time(
        "fc1 forward, 256 x 784 times 784 x 64",
        flops(256, 784, 64),
        &mut || {
            f32::matrix_product(Product {
                isa,
                m: 256,
                k: 784,
                n: 64,
                alpha: 1.0,
                a: Operand::new(w1.get(), 1, 256),
                b: Operand::new(x.get(), 1, 784),
                beta: 0.0,
                bias: Some(b1.get()),
                epilogue: Epilogue::Relu,
                c: OperandMut::new(y1.get_mut(), 1, 256),
            })
        },
    );
    time(
        "fc2 forward, 128 x 256 times 256 x 64",
        flops(128, 256, 64),
        &mut || {
            f32::matrix_product(Product {
                isa,
                m: 128,
                k: 256,
                n: 64,
                alpha: 1.0,
                a: Operand::new(w2.get(), 1, 128),
                b: Operand::new(h1.get(), 1, 256),
                beta: 0.0,
                bias: Some(b2.get()),
                epilogue: Epilogue::Relu,
                c: OperandMut::new(y2.get_mut(), 1, 128),
            })
        },
    );
    // Backward with the SGD step in it: W -= lr dY X^T, `B = X^T` row-major.
    time(
        "fc1 dW with the step, 256 x 64 times 64 x 784",
        flops(256, 64, 784),
        &mut || {
            f32::matrix_product(Product {
                isa,
                m: 256,
                k: 64,
                n: 784,
                alpha: -0.01,
                a: Operand::new(dy1.get(), 1, 256),
                b: Operand::new(x.get(), 784, 1),
                beta: 1.0,
                bias: None,
                epilogue: Epilogue::None,
                c: OperandMut::new(w1_step.get_mut(), 1, 256),
            })
        },
    );
    time(
        "fc2 dW with the step, 128 x 64 times 64 x 256",
        flops(128, 64, 256),
        &mut || {
            f32::matrix_product(Product {
                isa,
                m: 128,
                k: 64,
                n: 256,
                alpha: -0.01,
                a: Operand::new(dy2.get(), 1, 128),
                b: Operand::new(h1.get(), 256, 1),
                beta: 1.0,
                bias: None,
                epilogue: Epilogue::None,
                c: OperandMut::new(w2_step.get_mut(), 1, 128),
            })
        },
    );
    // dH1 = W2^T dY2, `A = W2^T` row-major.
    time(
        "fc2 dX, 256 x 128 times 128 x 64",
        flops(256, 128, 64),
        &mut || {
            f32::matrix_product(Product {
                isa,
                m: 256,
                k: 128,
                n: 64,
                alpha: 1.0,
                a: Operand::new(w2.get(), 128, 1),
                b: Operand::new(dy2.get(), 1, 128),
                beta: 0.0,
                bias: None,
                epilogue: Epilogue::None,
                c: OperandMut::new(dh1.get_mut(), 1, 256),
            })
        },
    );
    black_box((y1.get(), y2.get(), dh1.get(), w1_step.get(), w2_step.get()));
    out
}
