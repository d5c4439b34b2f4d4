// A layer of width zero.
constnet::network! {
    struct Net {
        fc1: Dense<2, 0>,
        fc2: Dense<0, 3>,
    }
}

fn main() {}
