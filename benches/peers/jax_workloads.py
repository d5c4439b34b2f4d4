"""W2 batch and W3 SGD (benches/BENCHMARKS.md's shapes) in JAX on one core, for comparison
with `best_of W2` / `best_of W3` on the same machine, in the same run.

    python3 -m pip install "jax[cpu]"
    taskset -c 0 python3 benches/peers/jax_workloads.py

Prints the least time per sample over many batches of calls, as best_of.rs does.
"""

import os

os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
)

import time

import jax
import jax.numpy as jnp


def best_of(batches, calls, f):
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            out = f()
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def init(key, sizes):
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        key, sub = jax.random.split(key)
        w = jax.random.normal(sub, (n_out, n_in), jnp.float32) * (2.0 / n_in) ** 0.5
        params.append((w, jnp.zeros((n_out,), jnp.float32)))
    return params


def forward(params, x):
    # x: batch x features, as JAX users write it; W: out x in (PyTorch's layout).
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w.T + b)
    w, b = params[-1]
    return x @ w.T + b


def loss(params, x, labels):
    scores = forward(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(scores), labels[:, None], 1))


@jax.jit
def sgd_step(params, x, labels):
    grads = jax.grad(loss)(params, x, labels)
    return jax.tree_util.tree_map(lambda p, g: p - 1e-2 * g, params, grads)


def main():
    key = jax.random.PRNGKey(0)
    w2 = init(key, [784, 128, 10])
    x256 = jax.random.uniform(key, (256, 784), jnp.float32)
    f = jax.jit(forward)
    t = best_of(60, 50, lambda: f(w2, x256))
    flops = 2 * (784 * 128 + 128 * 10)
    print(f"JAX W2 forward batch 256: {t / 256 * 1e6:.2f} us/sample, {flops * 256 / t / 1e9:.1f} GFLOP/s")

    w3 = init(key, [784, 256, 128, 10])
    x64 = jax.random.uniform(key, (64, 784), jnp.float32)
    labels = jax.random.randint(key, (64,), 0, 10)
    state = {"p": w3}

    def step():
        state["p"] = sgd_step(state["p"], x64, labels)
        return state["p"]

    t = best_of(40, 20, step)
    # best_of.rs's count: forward and every dW, and dX of the second and third layers.
    flops = 4 * (784 * 256 + 256 * 128 + 128 * 10) + 2 * (256 * 128 + 128 * 10)
    print(f"JAX W3 SGD step batch 64: {t / 64 * 1e6:.2f} us/sample, {flops * 64 / t / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
