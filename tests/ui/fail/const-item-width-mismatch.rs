// Widths given by const items are checked by the type system, at the layer.
const HIDDEN: usize = 100;
const OTHER: usize = 128;

constnet::network! {
    struct Net {
        fc1: Dense<784, HIDDEN>,
        act: Relu,
        fc2: Dense<OTHER, 10>,
    }
}

fn main() {}
