// Two different const generic widths: the macro cannot compare them, the type system does.
constnet::network! {
    struct Mlp<const A: usize, const B: usize> {
        fc1: Dense<784, A>,
        act: Relu,
        fc2: Dense<B, 10>,
    }
}

fn main() {}
