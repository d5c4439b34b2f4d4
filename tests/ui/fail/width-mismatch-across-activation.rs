// An activation keeps its input width, so `fc2` must take what `fc1` produces.
constnet::network! {
    struct TwoLayerNet {
        fc1: Dense<784, 100>,
        act: Relu,
        fc2: Dense<128, 10>,
    }
}

fn main() {}
