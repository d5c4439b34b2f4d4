// A sample of the wrong width at a call site.
use constnet::prelude::*;

network! {
    struct Net { fc1: Dense<2, 8>, act: Relu, fc2: Dense<8, 3> }
}

fn main() {
    let net = Net::new(0);
    let _ = net.forward(&Sample::<f32, 3>::zeros());
}
