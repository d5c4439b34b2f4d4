// sparse(N) connects each output neuron to N distinct inputs; fc2 has only 8.
constnet::network! {
    struct Net {
        fc1: Dense<2, 8>,
        act: Relu,
        #[init(sparse(20))]
        fc2: Dense<8, 3>,
    }
}

fn main() {}
