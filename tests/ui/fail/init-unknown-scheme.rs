// An init scheme the macro does not know: the error lists the valid ones.
constnet::network! {
    struct Net {
        #[init(xavier)]
        fc1: Dense<2, 8>,
        act: Relu,
        fc2: Dense<8, 3>,
    }
}

fn main() {}
