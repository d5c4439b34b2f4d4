"""Cross-checks constnet's model files against PyTorch itself (run by hand: PyTorch is a
multi-gigabyte install that CI does not carry; the fixture this writes is what CI tests).

    python tests/pytorch/cross_check.py make-fixture tests/fixtures/pytorch-bn-net.safetensors
        Builds the PyTorch twin of `tests/checkpoint.rs`'s `Net` (fc1: Linear(4, 8),
        bn: BatchNorm1d(8), a1: ReLU, fc2: Linear(8, 3)), trains it for three batches so
        that its running statistics and `num_batches_tracked` move, and saves its
        `state_dict()` with `safetensors.torch.save_file`. The metadata holds five inputs
        and the model's outputs for them in evaluation mode, as JSON.

    python tests/pytorch/cross_check.py strict-load FILE
        Loads a file constnet wrote (`Checkpoint::of(&net).save(FILE)`) into the same
        PyTorch module with `load_state_dict(strict=True)` and prints the evaluation-mode
        outputs for the inputs in the file's `inputs` metadata, to compare with constnet's
        `outputs` metadata.
"""

import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.bn = torch.nn.BatchNorm1d(8)
        self.a1 = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.a1(self.bn(self.fc1(x))))


def inputs():
    return torch.tensor([[(i * 4 + j) * 0.37 - 2.0 for j in range(4)] for i in range(5)])


def make_fixture(path):
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for step in range(3):
        x = torch.randn(6, 4)
        loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 0, 1, 2]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x = inputs()
    with torch.no_grad():
        y = net(x)
    metadata = {
        "made_by": f"tests/pytorch/cross_check.py with torch {torch.__version__}",
        "inputs": json.dumps(x.tolist()),
        "outputs": json.dumps(y.tolist()),
    }
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path, metadata)
    print(f"wrote {path}: {sorted(net.state_dict())}")


def strict_load(path):
    net = Net()
    state = load_file(path)
    result = net.load_state_dict(state, strict=True)
    print(f"load_state_dict(strict=True): {result}")
    for name, tensor in sorted(state.items()):
        print(f"  {name}: {tensor.dtype} {list(tensor.shape)}")
    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
    net.eval()
    x = torch.tensor(json.loads(metadata["inputs"]))
    with torch.no_grad():
        y = net(x)
    expected = torch.tensor(json.loads(metadata["outputs"]))
    print(f"largest difference from constnet's outputs: {(y - expected).abs().max().item():.3g}")


if __name__ == "__main__":
    {"make-fixture": make_fixture, "strict-load": strict_load}[sys.argv[1]](sys.argv[2])
