#!/usr/bin/python3
"""Export a PyTorch reference run of scour's reference CNN for internal/nn's parity test.

The network is the one in shared/bench/torch_cnn_reference.py (3x conv3x3 valid 32/64/128 + ReLU +
maxpool2, flatten, dense 128 + ReLU, dense 2, softmax cross-entropy, Adam lr 1e-3) at 32x32x3, batch 4,
with dropout off so both engines compute the same function. Weights and inputs come from a counter hash
(SplitMix64) that the Go test reproduces bit for bit, so the file holds only results: logits, loss,
gradients of step 1, and the weights after two Adam steps on the same batch. PyTorch runs in float64,
so the reference is the exact answer to float32 engines' rounding.

Layouts: scour is NHWC with conv weights [kh][kw][Cin][Cout] and dense weights [in][out], flattening
(h, w, c); PyTorch is NCHW with [Cout][Cin][kh][kw], [out][in] and flattening (c, h, w). Every array in
the file is in scour's layout.

Run: /usr/bin/python3 tools/torchref/export_reference.py [out]   (default internal/nn/testdata/torchref.bin)
"""
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

IMG, BATCH, CLASSES, LR = 32, 4, 2, 1e-3
M64 = (1 << 64) - 1


def mix64(z):
    """SplitMix64's finaliser on a uint64 array (numpy wraps like Go's uint64)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_uniform(stream, n):
    """n floats in [0, 1) with 24-bit resolution (exact in float32) from stream."""
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.uint64) + np.uint64(stream << 32)
        h = mix64(i)
    return (h >> np.uint64(40)).astype(np.float64) / float(1 << 24)


# scour's parameter order and shapes (its layout) for Build("32-64-128/d1@0", 32x32x3, 2 classes).
def shapes():
    out, c, s = [], 3, IMG
    for i, f in enumerate([32, 64, 128]):
        out.append((f"conv{i+1}.w", (3, 3, c, f), 9 * c, 9 * f))
        out.append((f"conv{i+1}.b", (f,), 0, 0))
        c, s = f, (s - 2) // 2
    flat = s * s * c
    out += [("dense1.w", (flat, 128), flat, 128), ("dense1.b", (128,), 0, 0),
            ("logits.w", (128, CLASSES), 128, CLASSES), ("logits.b", (CLASSES,), 0, 0)]
    return out, s


def init_params():
    params = {}
    for p, (name, shape, fan_in, fan_out) in enumerate(shapes()[0]):
        u = hash_uniform(p, int(np.prod(shape))) * 2 - 1
        scale = math.sqrt(6 / (fan_in + fan_out)) if fan_in else 0.1
        params[name] = (u * scale).astype(np.float32).reshape(shape)
    return params


def inputs():
    x = hash_uniform(100, BATCH * IMG * IMG * 3).astype(np.float32).reshape(BATCH, IMG, IMG, 3)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return x, y


class Net(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128 * s * s, 128), nn.ReLU(), nn.Linear(128, CLASSES))

    def forward(self, x):
        return self.classifier(self.features(x))


def torch_params(net):
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    lins = [m for m in net.classifier if isinstance(m, nn.Linear)]
    named = {}
    for i, m in enumerate(convs):
        named[f"conv{i+1}.w"], named[f"conv{i+1}.b"] = m.weight, m.bias
    named["dense1.w"], named["dense1.b"] = lins[0].weight, lins[0].bias
    named["logits.w"], named["logits.b"] = lins[1].weight, lins[1].bias
    return named


def to_torch(name, a, s):
    """scour layout -> PyTorch layout."""
    if name.startswith("conv") and name.endswith(".w"):
        return a.transpose(3, 2, 0, 1)
    if name == "dense1.w":  # [(h,w,c), out] -> [out, (c,h,w)]
        c = a.shape[0] // (s * s)
        return a.reshape(s, s, c, -1).transpose(3, 2, 0, 1).reshape(a.shape[1], -1)
    if name == "logits.w":
        return a.T
    return a


def from_torch(name, t, shape, s):
    """PyTorch layout -> scour layout."""
    a = t.detach().cpu().numpy()
    if name.startswith("conv") and name.endswith(".w"):
        return a.transpose(2, 3, 1, 0).reshape(shape)
    if name == "dense1.w":
        c = shape[0] // (s * s)
        return a.reshape(-1, c, s, s).transpose(2, 3, 1, 0).reshape(shape)
    if name == "logits.w":
        return a.T.reshape(shape)
    return a.reshape(shape)


def run(dtype):
    specs, s = shapes()
    params = init_params()
    x, y = inputs()
    net = Net(s).to(dtype)
    named = torch_params(net)
    with torch.no_grad():
        for name, *_ in specs:
            named[name].copy_(torch.from_numpy(np.ascontiguousarray(to_torch(name, params[name], s))).to(dtype))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    lossfn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(dtype)
    yt = torch.from_numpy(y)
    res = {}
    for step in (1, 2):
        opt.zero_grad(set_to_none=True)
        logits = net(xt)
        loss = lossfn(logits, yt)
        loss.backward()
        if step == 1:
            res["logits"] = logits.detach().numpy()
            res["loss"] = np.array([loss.item()])
            for name, shape, *_ in specs:
                res["grad/" + name] = from_torch(name, named[name].grad, shape, s)
        else:
            res["loss2"] = np.array([loss.item()])
        opt.step()
    for name, shape, *_ in specs:
        res["after2/" + name] = from_torch(name, named[name], shape, s)
    # Checksums of the hashed inputs so the Go side can tell a hash mismatch from an engine bug.
    res["check/x_sum"] = np.array([float(x.astype(np.float64).sum())])
    res["check/w_sum"] = np.array([float(sum(params[n].astype(np.float64).sum() for n, *_ in specs))])
    return res


def write(path, res):
    with open(path, "wb") as f:
        f.write(b"TORCHREF")
        f.write(struct.pack("<I", len(res)))
        for name in sorted(res):
            a = np.ascontiguousarray(res[name], dtype=np.float64).ravel()
            # float64 for the scalars and checksums, float32 for the big tensors (keeps the file small;
            # float32 rounding, 6e-8 relative, is far below the test's 1e-4).
            big = a.size > 16
            f.write(struct.pack("<I", len(name)) + name.encode())
            f.write(struct.pack("<BQ", 4 if big else 8, a.size))
            f.write(a.astype("<f4" if big else "<f8").tobytes())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("internal", "nn", "testdata", "torchref.bin")
    torch.set_num_threads(2)
    ref = run(torch.float64)
    f32 = run(torch.float32)
    worst = max(np.linalg.norm(f32[k] - ref[k]) / max(np.linalg.norm(ref[k]), 1e-30) for k in ref if not k.startswith("check"))
    print(f"torch {torch.__version__}: loss {ref['loss'][0]:.6f} loss2 {ref['loss2'][0]:.6f}; "
          f"PyTorch float32 vs float64, worst relative error over all arrays: {worst:.2e}")
    write(out, ref)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
