// The first layer must fix the input width.
constnet::network! {
    struct Net {
        act: Relu,
        fc: Dense<8, 3>,
    }
}

fn main() {}
