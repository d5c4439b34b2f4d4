//! The course's spiral example as a test: the 2-100-3 ReLU net reaches at least 98% training
//! accuracy, as the CS231n notes report for it.

use constnet::prelude::*;

network! {
    struct SpiralNet { fc1: Dense<2, 100>, relu: Relu, fc2: Dense<100, 3> }
}

#[test]
fn spiral_net_reaches_98_percent_training_accuracy() {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = SpiralNet::new(0);
    let mut tape = net.new_tape(300);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(1.0).unwrap();
    let mut first_loss = None;
    let mut loss = 0.0;
    for _ in 0..3000 {
        loss = net
            .loss_and_grad(
                &data.inputs,
                &data.labels[..],
                &SoftmaxCrossEntropy,
                &mut tape,
                &mut grads,
            )
            .unwrap();
        loss += Regularizer::l2(1e-3).unwrap().apply(&net, &mut grads);
        first_loss.get_or_insert(loss);
        sgd.step(net.params_mut(), &grads).unwrap();
    }
    let accuracy = net.accuracy(&data.inputs, &data.labels).unwrap();
    assert!(accuracy >= 0.98, "training accuracy {accuracy}");
    assert!(
        loss < 0.5 * first_loss.unwrap(),
        "loss {loss} from {first_loss:?}"
    );
}
