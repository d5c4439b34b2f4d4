// Dropout's `p` is the probability of keeping a unit: it must be in (0, 1].
constnet::network! {
    struct KeepsNothing { fc1: Dense<4, 8>, drop: Dropout(0.0), fc2: Dense<8, 2> }
    struct KeepsTooMuch { fc1: Dense<4, 8>, drop: Dropout(1.5), fc2: Dense<8, 2> }
}

fn main() {}
