// `#[init]` alone says nothing: the error shows the forms the attribute takes.
constnet::network! {
    struct Net {
        #[init]
        fc1: Dense<2, 8>,
    }
}

fn main() {}
