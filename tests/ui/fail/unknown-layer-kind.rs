// A misspelled layer kind.
constnet::network! {
    struct Net {
        fc1: Dense<2, 8>,
        act: ReLU,
        fc2: Dense<8, 3>,
    }
}

fn main() {}
