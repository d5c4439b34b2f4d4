// Two layers with the same name.
constnet::network! {
    struct Net {
        fc: Dense<2, 8>,
        act: Relu,
        fc: Dense<8, 3>,
    }
}

fn main() {}
