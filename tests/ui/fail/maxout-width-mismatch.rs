// Maxout layers take part in width checks like Dense: a wrong input width, and the common
// slip of taking a Maxout's output for K * OUT (its weight's row count) instead of OUT.
constnet::network! {
    struct WrongInput { fc1: Dense<4, 8>, mx: Maxout<6, 4, 2>, fc2: Dense<4, 2> }
    struct PiecesAreNotOutputs { fc1: Dense<4, 8>, mx: Maxout<8, 4, 3>, fc2: Dense<12, 2> }
    struct ZeroPieces { fc1: Dense<4, 8>, mx: Maxout<8, 4, 0> }
}

// A width the type system has to compare.
constnet::network! {
    struct Generic<const H: usize> { fc1: Dense<4, H>, mx: Maxout<8, 4>, fc2: Dense<4, 2> }
}

fn main() {
    let _ = Generic::<16>::new(0);
}
