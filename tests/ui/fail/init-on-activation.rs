// `#[init]` configures a Dense layer's parameters; an activation has none.
constnet::network! {
    struct Net {
        fc1: Dense<2, 8>,
        #[init(he)]
        act: Relu,
        fc2: Dense<8, 3>,
    }
}

fn main() {}
