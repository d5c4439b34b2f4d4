// Adjacent Dense layers whose widths disagree.
constnet::network! {
    struct TwoLayerNet {
        fc1: Dense<784, 100>,
        fc2: Dense<128, 10>,
    }
}

fn main() {}
