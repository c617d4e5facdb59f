#!/usr/bin/python3
"""PyTorch peer benchmark for fer's networks.

Builds, in PyTorch, the same network that fer's models/seed.cfg describes,
so that fer's C implementation can be compared with a mainstream framework
on the same machine and with the same thread count.

Network "seed" (input 1x48x48 grayscale, 7 classes, float32):
    conv3x3(1->32)+ReLU, conv3x3(32->32)+ReLU, conv3x3(32->32)+ReLU, maxpool2
    conv3x3(32->64)+ReLU, conv3x3(64->64)+ReLU x2,                   maxpool2
    conv3x3(64->128)+ReLU, conv3x3(128->128)+ReLU x2,                maxpool2
    flatten (128x6x6 = 4608), dense 4608->1024 + ReLU, dropout 0.5,
    dense 1024->1024 + ReLU, dropout 0.5, dense 1024->7,
    softmax cross-entropy loss.
    All convolutions: stride 1, padding 1, with bias.

What it measures (after a short warm-up, on random data with a fixed seed):
    1. training images/s: SGD (momentum 0.9, Nesterov) steps -- forward,
       loss, backward, step -- at the training batch size (default 128),
       for about --seconds seconds;
    2. inference images/s at batch 128, eval mode, under inference_mode;
    3. single-face inference latency (batch 1): median milliseconds over
       many runs, and images/s = 1000 / median.
It also reports the analytic forward cost in MFLOP per image
(2 * multiply-accumulates of the conv and dense layers; ~310 for "seed").

How to run (Debian's interpreter, which has python3-torch):
    /usr/bin/python3 bench/torch_seed.py --threads 1
    /usr/bin/python3 bench/torch_seed.py --threads 2 --seconds 8 --json

Options:
    --threads N        torch.set_num_threads(N) (inter-op threads set to 1)
    --arch NAME        network to build (see ARCHS; default "seed")
    --train-batch B    training batch size (default 128)
    --seconds S        approximate duration of each measurement (default 10)
    --json             also print one JSON line with the results

More networks can be added by writing a builder function returning an
nn.Module and registering it with its input shape in ARCHS: "seed", and the
residual networks "fer-resnet" (the built-in fast model) and "fer-accurate".
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE_SHAPE = (1, 48, 48)
NUM_CLASSES = 7
INFER_BATCH = 128


def conv_block(in_ch, out_ch, n_convs):
    """n_convs conv3x3 (stride 1, pad 1, bias) + ReLU, then maxpool 2."""
    layers = []
    for i in range(n_convs):
        layers.append(nn.Conv2d(in_ch if i == 0 else out_ch, out_ch,
                                kernel_size=3, stride=1, padding=1, bias=True))
        layers.append(nn.ReLU(inplace=True))
    layers.append(nn.MaxPool2d(2))
    return layers


def build_seed():
    """The "seed" network of fer's models/seed.cfg."""
    return nn.Sequential(
        *conv_block(1, 32, 3),     # -> 32x24x24
        *conv_block(32, 64, 3),    # -> 64x12x12
        *conv_block(64, 128, 3),   # -> 128x6x6
        nn.Flatten(),
        nn.Linear(128 * 6 * 6, 1024),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(1024, 1024),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(1024, NUM_CLASSES),
    )


class ResidualBlock(nn.Module):
    """fer's residual block: conv3x3+BN+ReLU, conv3x3+BN, plus the input (through a 1x1
    conv+BN where the width changes), then ReLU. Convolutions before BN have no bias."""

    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.project = None
        if in_ch != out_ch:
            self.project = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False),
                                         nn.BatchNorm2d(out_ch))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.project(x) if self.project is not None else x))


def build_residual(widths):
    """The residual networks of fer's models/fer-resnet.cfg (widths 32-64-128-256) and
    models/fer-accurate.cfg (48-96-192-384): a 3x3 stem and maxpool, then stages of 1, 2 and 2
    blocks with a maxpool between, global average pooling, dropout 0.3, dense. 44x44 input."""
    w0, w1, w2, w3 = widths
    return nn.Sequential(
        nn.Conv2d(1, w0, 3, padding=1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),                                         # -> 22x22
        ResidualBlock(w0, w1), nn.MaxPool2d(2),                  # -> 11x11
        ResidualBlock(w1, w2), ResidualBlock(w2, w2), nn.MaxPool2d(2),  # -> 5x5
        ResidualBlock(w2, w3), ResidualBlock(w3, w3),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
        nn.Linear(w3, NUM_CLASSES),
    )


# Registry of networks: name -> (builder function returning an nn.Module, input shape).
ARCHS = {
    "seed": (build_seed, (1, 48, 48)),
    "fer-resnet": (lambda: build_residual((32, 64, 128, 256)), (1, 44, 44)),
    "fer-accurate": (lambda: build_residual((48, 96, 192, 384)), (1, 44, 44)),
}


def forward_mflop(model):
    """Analytic forward cost per image: 2 * MACs of conv and dense layers.

    Output shapes are traced with forward hooks on one dummy image, so the
    count follows whatever architecture the builder produced.
    """
    macs = 0

    def hook(module, inputs, output):
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            per_out = (module.in_channels // module.groups) * k_h * k_w
            macs += output[0].numel() * per_out
        elif isinstance(module, nn.Linear):
            macs += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *IMAGE_SHAPE))
    model.train(was_training)
    for h in handles:
        h.remove()
    return 2.0 * macs / 1e6


def bench_train(model, batch, seconds, warmup_steps=1):
    """Training throughput in images/s with SGD momentum 0.9 Nesterov."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, *IMAGE_SHAPE, generator=gen)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          nesterov=True)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(warmup_steps):
        step()
    steps = 0
    t0 = time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    return steps * batch / elapsed


def bench_infer_batch(model, batch, seconds, warmup_steps=2):
    """Inference throughput in images/s at the given batch size."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(batch, *IMAGE_SHAPE, generator=gen)
    model.eval()
    with torch.inference_mode():
        for _ in range(warmup_steps):
            model(x)
        runs = 0
        t0 = time.perf_counter()
        while True:
            model(x)
            runs += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
    return runs * batch / elapsed


def bench_infer_single(model, seconds, warmup_steps=10, min_runs=50):
    """Median latency in ms of one-image inference over many runs."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, *IMAGE_SHAPE, generator=gen)
    model.eval()
    times = []
    with torch.inference_mode():
        for _ in range(warmup_steps):
            model(x)
        t_end = time.perf_counter() + seconds
        while len(times) < min_runs or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="PyTorch peer benchmark for fer's networks.")
    p.add_argument("--threads", type=int, required=True,
                   help="intra-op threads (torch.set_num_threads)")
    p.add_argument("--arch", default="seed", choices=sorted(ARCHS),
                   help="network to benchmark (default: seed)")
    p.add_argument("--train-batch", type=int, default=128,
                   help="training batch size (default: 128)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="approximate seconds per measurement (default: 10)")
    p.add_argument("--json", action="store_true",
                   help="also print one JSON line with the results")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set, or parallel work has already started
    torch.manual_seed(0)

    global IMAGE_SHAPE
    build, IMAGE_SHAPE = ARCHS[args.arch]
    model = build()
    mflop = forward_mflop(model)

    train_img_s = bench_train(model, args.train_batch, args.seconds)
    infer_b128_img_s = bench_infer_batch(model, INFER_BATCH, args.seconds)
    infer_b1_ms, b1_runs = bench_infer_single(model, args.seconds)
    infer_b1_img_s = 1000.0 / infer_b1_ms

    print(f"pytorch {torch.__version__}  arch={args.arch}  "
          f"threads={torch.get_num_threads()}")
    print(f"  forward cost          : {mflop:9.1f} MFLOP/image")
    print(f"  train  (batch {args.train_batch:3d})   : "
          f"{train_img_s:9.1f} img/s  "
          f"({train_img_s * 3 * mflop / 1e3:.1f} GFLOP/s at ~3x fwd)")
    print(f"  infer  (batch {INFER_BATCH:3d})   : "
          f"{infer_b128_img_s:9.1f} img/s  "
          f"({infer_b128_img_s * mflop / 1e3:.1f} GFLOP/s)")
    print(f"  infer  (batch   1)   : {infer_b1_ms:9.3f} ms median "
          f"over {b1_runs} runs = {infer_b1_img_s:.1f} img/s")
    if args.json:
        print(json.dumps({
            "peer": "pytorch",
            "version": torch.__version__,
            "arch": args.arch,
            "threads": args.threads,
            "train_img_s": round(train_img_s, 2),
            "infer_b128_img_s": round(infer_b128_img_s, 2),
            "infer_b1_ms": round(infer_b1_ms, 4),
            "infer_b1_img_s": round(infer_b1_img_s, 2),
            "mflop_per_image_forward": round(mflop, 3),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
