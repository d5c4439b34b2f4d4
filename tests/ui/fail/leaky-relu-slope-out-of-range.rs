// Leaky ReLU's slope must lie in [0, 1).
constnet::network! {
    struct Net {
        fc1: Dense<2, 8>,
        act: LeakyRelu(1.5),
        fc2: Dense<8, 3>,
    }
}

fn main() {}
