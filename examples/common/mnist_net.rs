//! The network of `examples/mnist.rs`, shared with `examples/mnist_eval.rs` so that the
//! evaluation loads the checkpoint into the very same type.

use constnet::network;

/// Where `mnist` saves its checkpoint and `mnist_eval` reads it.
pub const CHECKPOINT: &str = "checkpoints/mnist.safetensors";

network! {
    /// 784-256-128-10, ReLU, dropout keeping 90% after each hidden layer; He init but for
    /// the last layer, which starts small so that the untrained scores are about equal and
    /// the loss starts at chance, `ln 10` (He init there starts it at 2.86, which the
    /// sanity check refuses).
    pub struct MnistNet {
        fc1: Dense<784, 256>,
        a1: Relu,
        drop1: Dropout(0.9),
        fc2: Dense<256, 128>,
        a2: Relu,
        drop2: Dropout(0.9),
        #[init(small_random)]
        fc3: Dense<128, 10>,
    }
}
