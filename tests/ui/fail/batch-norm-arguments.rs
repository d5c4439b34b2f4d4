// Batch norm's momentum is in [0, 1) and its eps positive; the arguments are named.
constnet::network! {
    struct MomentumTooLarge { fc1: Dense<4, 8>, bn: BatchNorm(momentum = 1.0), fc2: Dense<8, 2> }
    struct ZeroEps { fc1: Dense<4, 8>, bn: BatchNorm(eps = 0), fc2: Dense<8, 2> }
    struct EpsZeroInF32 { fc1: Dense<4, 8>, bn: BatchNorm(eps = 1e-50), fc2: Dense<8, 2> }
    struct InitOnBatchNorm { fc1: Dense<4, 8>, #[init(he)] bn: BatchNorm, fc2: Dense<8, 2> }
}

constnet::network! {
    struct UnknownArgument { fc1: Dense<4, 8>, bn: BatchNorm(decay = 0.9), fc2: Dense<8, 2> }
}

fn main() {}
