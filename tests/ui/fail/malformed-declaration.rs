// A layer without its `:`.
constnet::network! {
    struct Net {
        fc1 Dense<2, 8>,
    }
}

fn main() {}
