// Every other `#[init]` mistake, all reported by one build.
constnet::network! {
    struct Net {
        #[init(sparse(0))]
        fc1: Dense<2, 8>,
        act: Relu,
        #[init(he(3))]
        fc2: Dense<8, 8>,
        #[init(calibrated, bias = 1e999)]
        fc3: Dense<8, 8>,
        #[init(bias = f64::NAN)]
        fc4: Dense<8, 8>,
        #[init(he)]
        #[init(bias = 0.01)]
        fc5: Dense<8, 3>,
    }
}

fn main() {}
