//! A counting global allocator proves that single-sample and batched inference and a whole
//! training step (forward, loss, backward, L2, Adam, max-norm; or SGD, inside backward or
//! after it) allocate nothing once warmed up, through every kind of layer with state or
//! scratch: batch norm, dropout and Maxout; and that drawing mini-batches, labeled or
//! regression, allocates nothing either.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use constnet::prelude::*;

struct Counting;

thread_local! {
    /// Allocations made by this thread. Per thread, because the test harness's own threads
    /// allocate while a test runs (reporting the test before it, for one).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation on the calling thread (nothing during the thread's teardown).
fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to the system allocator, counting allocations on the way.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

network! {
    struct Mlp {
        fc1: Dense<784, 256>,
        bn: BatchNorm,
        a1: Relu,
        drop: Dropout(0.8),
        mx: Maxout<256, 128>,
        fc2: Dense<128, 64>,
        a2: Tanh,
        fc3: Dense<64, 10>,
    }
}

/// Allocations made by `f`, which runs on this thread.
fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn inference_and_training_allocate_nothing_after_warm_up() {
    let mut net = Mlp::new(0);
    let x = Batch::<f32, 784>::from_fn(32, |i, j| ((i + j) % 13) as f32 / 13.0);
    let labels: Vec<usize> = (0..32).map(|i| i % 10).collect();
    let one = Sample::<f32, 784>::from_column_slice(&x.as_slice()[..784]);
    let mut tape = net.new_tape(32);
    let mut grads = net.new_grads();
    let mut adam = AdamConfig::default().build().unwrap();
    let max_norm = MaxNorm::new(3.0).unwrap();
    let mut step = |net: &mut Mlp| {
        let loss = net
            .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
            .unwrap();
        let reg = Regularizer::l2(1e-4).unwrap().apply(net, &mut grads);
        adam.step(net.params_mut(), &grads).unwrap();
        max_norm.apply(net);
        loss + reg
    };
    // Warm-up: the matrix product's per-thread packing buffers and Adam's state are sized
    // here.
    step(&mut net);

    let forward = allocations_during(|| {
        std::hint::black_box(net.forward(std::hint::black_box(&one)));
    });
    assert_eq!(forward, 0, "single-sample forward allocated");

    let mut eval_tape = net.new_tape(32);
    let batched = allocations_during(|| {
        std::hint::black_box(net.forward_into(x.columns(0, 32), &mut eval_tape).unwrap());
    });
    assert_eq!(batched, 0, "batched evaluation forward allocated");

    let training = allocations_during(|| {
        for _ in 0..3 {
            std::hint::black_box(step(&mut net));
        }
    });
    assert_eq!(training, 0, "a training step allocated");

    // The SGD step taken inside backward uses the tape's scratch, sized with the tape.
    let mut sgd = Sgd::new(0.01).unwrap();
    let mut sgd_step = |net: &mut Mlp| {
        net.forward_train(x.columns(0, 32), &mut tape).unwrap();
        let (scores, dscores) = tape.output_and_grad_mut();
        let loss = SoftmaxCrossEntropy
            .loss_and_grad(scores, &labels[..], dscores)
            .unwrap();
        sgd.step_in_backward(net, &mut tape, 0.0).unwrap();
        loss
    };
    sgd_step(&mut net);
    let in_backward = allocations_during(|| {
        for _ in 0..3 {
            std::hint::black_box(sgd_step(&mut net));
        }
    });
    assert_eq!(in_backward, 0, "an SGD step in backward allocated");

    // The plain step: forward, loss, backward into the gradient buffer, then `Sgd::step`.
    let mut plain_sgd_step = |net: &mut Mlp| {
        let loss = net
            .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
            .unwrap();
        sgd.step(net.params_mut(), &grads).unwrap();
        loss
    };
    plain_sgd_step(&mut net);
    let plain = allocations_during(|| {
        for _ in 0..3 {
            std::hint::black_box(plain_sgd_step(&mut net));
        }
    });
    assert_eq!(plain, 0, "a step with Sgd::step allocated");
}

#[test]
fn drawing_mini_batches_allocates_nothing() {
    let x = Batch::<f32, 3>::from_fn(10, |i, j| (i + j) as f32);
    let labeled = constnet::datasets::Labeled::new(x.clone(), (0..10).collect()).unwrap();
    let regression =
        constnet::datasets::Regression::new(x.clone(), x.fixed_rows::<2>(0).into_owned()).unwrap();
    let mut labels = labeled.mini_batches(4, 0).unwrap();
    let mut targets = regression.mini_batches(4, 0).unwrap();
    let (mut seen_labels, mut seen_targets) = (0, 0);
    let drawn = allocations_during(|| {
        for _ in 0..3 {
            while let Some((_, l)) = labels.next_batch() {
                seen_labels += l.len();
            }
            while let Some((_, t)) = targets.next_batch() {
                seen_targets += t.ncols();
            }
            labels.next_epoch();
            targets.next_epoch();
        }
    });
    assert_eq!((seen_labels, seen_targets), (30, 30));
    assert_eq!(drawn, 0, "drawing mini-batches allocated");
}

#[test]
fn a_recorded_training_step_allocates_nothing() {
    use constnet::datasets::Labeled;
    use constnet::record::Record;
    use constnet::train::{Config, Progress, fit};
    network! { struct Small { fc1: Dense<8, 16>, a1: Relu, fc2: Dense<16, 3> } }
    let dir = std::env::temp_dir().join(format!("constnet-alloc-record-{}", std::process::id()));
    // One epoch of `steps` steps of 4 samples, recorded (metrics.csv and the event file,
    // whose histograms come after the epoch): the same allocations for 10 steps as for 40
    // means none per step.
    let run = |steps: usize| {
        let x = Batch::<f32, 8>::from_fn(4 * steps, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
        let data = Labeled::new(x, (0..4 * steps).map(|j| j % 3).collect()).unwrap();
        let config = Config {
            // The figures, drawn after training when the `plots` feature is on, are not
            // part of a step.
            record: Some(Record {
                histogram_epochs: vec![],
                figures: false,
                ..Record::new(&dir)
            }),
            progress: Progress::Silent,
            ..Config::new(1, 4)
        };
        let mut net = Small::new(0);
        let mut sgd = Sgd::new(0.1).unwrap();
        allocations_during(|| {
            fit(
                &mut net,
                &mut sgd,
                &SoftmaxCrossEntropy,
                &data,
                None,
                &config,
            )
            .unwrap();
        })
    };
    run(10); // warms up what is done once per process
    let (ten, forty) = (run(10), run(40));
    assert_eq!(
        ten, forty,
        "10 recorded steps allocated {ten} times, 40 steps {forty}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
