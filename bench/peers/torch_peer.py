#!/usr/bin/env python3
"""The peer benchmark of issue 6 on PyTorch: the ResNet-34 UNet of segmentation_models_pytorch's
`Unet("resnet34", classes=1)` (24,436,369 parameters), written here in plain PyTorch, trained as ours is
(Adam at lr 1e-4, BCE with logits, batch norm on batch statistics) with the loss read back every step.

    python3 bench/peers/torch_peer.py --batch 2 --size 128 --steps 5 --mode fp32 --gemm

--mode fp32 turns TF32 off (matmul and cuDNN), the arithmetic ours does; --mode default keeps PyTorch's
defaults (cuDNN convolutions may then use TF32 on Ampere and later). Prints one JSON line with the fields
of bench/peers/tfjs.ts plus maxMemoryReservedBytes and, with --gemm, the FP32 torch.mm TFLOP/s on the
GEMM shapes (M = n*oh*ow, N = cout, K = 9*cin) of the network's distinct 3x3 convolutions.

--threads N sets PyTorch's intra-op threads (the CPU peer of issue 29 runs with 2, the machine's cores).
--layers FILE (or - for standard input) times single conv layers instead of the network: FILE is a JSON
list of {layer, n, h, w, cin, cout, kh, kw, stride, pad} (NHWC sizes, as `gpuseg bench kernels --json`
prints them), and for each layer the forward convolution, its input gradient and its weight gradient
(aten's convolution_backward, as autograd runs them) are timed, with the layer's implicit GEMM
(M = n*oh*ow, N = cout, K = kh*kw*cin) as a 1x1 convolution on the same library (oneDNN) as the roofline. Prints one JSON line.

Not named torch.py: Python puts the script's folder first on sys.path, so `import torch` would import
this file instead of PyTorch.
"""
import argparse
import json
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PARAMETERS = 24_436_369  # torchvision ResNet-34 without fc (21,284,672) + smp decoder and head
LEARNING_RATE = 1e-4
DEFAULT_WARMUP = 2  # as ours: the first steps pick cuDNN algorithms and fill the caching allocator
INFER_MIN_RUNS = 3  # as ours (bench/train.ts)
ENCODER = ((64, 3), (128, 4), (256, 6), (512, 3))  # (channels, blocks) of layer1..layer4
DECODER = (256, 128, 64, 32, 16)
SKIPS = (256, 128, 64, 64, 0)  # layer3, layer2, layer1, stem, none
GEMM_WARMUP = 3
GEMM_MIN_SECONDS = 0.2  # time each GEMM for at least this long


# ---- the encoder: torchvision's ResNet-34 if importable, else the same network by hand ----

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        h = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(h)) + identity)


class HandResNet34(nn.Module):
    """torchvision's resnet34 layout and names, without avgpool and fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (channels, blocks) in enumerate(ENCODER):
            stride = 1 if i == 0 else 2
            layer = [BasicBlock(cin if b == 0 else channels, channels, stride if b == 0 else 1) for b in range(blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            cin = channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def resnet34_encoder():
    """Returns (module, source). The module has conv1, bn1, relu, maxpool, layer1..layer4."""
    try:
        from torchvision.models import resnet34
    except ImportError:
        return HandResNet34(), "hand-written"
    try:
        net = resnet34(weights=None)
    except TypeError:  # torchvision < 0.13
        net = resnet34(pretrained=False)
    del net.avgpool, net.fc  # smp's encoder drops them; so do their parameters
    return net, "torchvision"


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net, self.source = resnet34_encoder()

    def forward(self, x):
        n = self.net
        stem = n.relu(n.bn1(n.conv1(x)))
        features = [stem]
        h = n.maxpool(stem)
        for layer in (n.layer1, n.layer2, n.layer3, n.layer4):
            h = layer(h)
            features.append(h)
        return features  # strides 2, 4, 8, 16, 32


# ---- the smp UNet decoder and head ----

def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DecoderBlock(nn.Module):
    def __init__(self, cin, skip, cout):
        super().__init__()
        self.conv1 = conv_bn_relu(cin + skip, cout)
        self.conv2 = conv_bn_relu(cout, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class Unet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        blocks, cin = [], 512
        for cout, skip in zip(DECODER, SKIPS):
            blocks.append(DecoderBlock(cin, skip, cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, 1, 3, padding=1)

    def forward(self, x):
        features = self.encoder(x)
        skips = features[:-1][::-1]
        h = features[-1]
        for i, block in enumerate(self.blocks):
            h = block(h, skips[i] if i < len(skips) else None)
        return self.head(h)


# ---- the benchmark ----

def synthetic_batch(batch, size):
    """Inputs uniform in [-2, 2]; the mask is 1 in the left quarter of each row (as ours)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=g) * 4 - 2
    t = torch.zeros(batch, 1, size, size)
    t[..., : (size + 3) // 4] = 1  # columns w with 4w < size
    return x, t


def conv3x3_gemms(n, s):
    """Distinct (layer, M, N, K) of the 3x3 convolutions at batch n and input size s, as implicit GEMMs."""
    shapes, seen = [], set()

    def add(name, oh, cin, cout):
        key = (n * oh * oh, cout, 9 * cin)
        if key not in seen:
            seen.add(key)
            shapes.append({"layer": name, "m": key[0], "n": key[1], "k": key[2]})

    h, cin = s // 4, 64  # after the 7x7/2 stem and the 3x3/2 max pool
    for i, (channels, blocks) in enumerate(ENCODER):
        for b in range(blocks):
            stride = 2 if i > 0 and b == 0 else 1
            oh = h // stride
            add(f"layer{i + 1} 3x3/{stride}", oh, cin, channels)
            add(f"layer{i + 1} 3x3", oh, channels, channels)
            h, cin = oh, channels
    for i, (cout, skip) in enumerate(zip(DECODER, SKIPS)):
        h *= 2
        add(f"decoder{i} 3x3 a", h, cin + skip, cout)
        add(f"decoder{i} 3x3 b", h, cout, cout)
        cin = cout
    add("head 3x3", h, cin, 1)
    return shapes


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(device, fn):
    """Seconds per call of fn: GEMM_WARMUP calls, then as many as fill GEMM_MIN_SECONDS."""
    for _ in range(GEMM_WARMUP):
        fn()
    sync(device)
    reps, elapsed = 0, 0.0
    start = time.perf_counter()
    while elapsed < GEMM_MIN_SECONDS:
        fn()
        reps += 1
        if reps % 10 == 0 or device.type != "cuda":
            sync(device)
            elapsed = time.perf_counter() - start
    sync(device)
    return (time.perf_counter() - start) / reps


def conv_output(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def time_layers(layers):
    """Per layer: ms and GFLOP/s of the forward conv, its input and weight gradients, and its implicit GEMM
    (as a 1x1 convolution), all FP32 on the CPU (or the GPU where there is one)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    g = torch.Generator().manual_seed(0)
    rows = []
    for L in layers:
        n, h, w, cin, cout = (int(L[k]) for k in ("n", "h", "w", "cin", "cout"))
        kh, kw, stride, pad = int(L["kh"]), int(L["kw"]), int(L["stride"]), int(L["pad"])
        oh, ow = conv_output(h, kh, stride, pad), conv_output(w, kw, stride, pad)
        m, k = n * oh * ow, kh * kw * cin
        flops = 2 * m * cout * k
        x = (torch.rand(n, cin, h, w, generator=g) * 2 - 1).to(device)
        wt = (torch.rand(cout, cin, kh, kw, generator=g) * 2 - 1).to(device)
        dy = (torch.rand(n, cout, oh, ow, generator=g) * 2 - 1).to(device)
        # The implicit GEMM as a 1x1 convolution (M pixels of K channels times K x N), so that it runs on
        # the same library as the convolutions (oneDNN); torch.mm goes to whatever BLAS the system has
        # (Debian's reference BLAS: 6 GFLOP/s).
        a = torch.randn(1, k, m, 1, generator=g).to(device)
        b = torch.randn(cout, k, 1, 1, generator=g).to(device)

        def backward(mask):
            # What autograd runs for F.conv2d's backward (torch.nn.grad's helpers take other routes).
            return torch.ops.aten.convolution_backward(dy, x, wt, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, mask)

        ops = {
            "conv2d": lambda: F.conv2d(x, wt, None, stride, pad),
            "conv2dInputGrad": lambda: backward([True, False, False]),
            "conv2dWeightGrad": lambda: backward([False, True, False]),
            "matmul": lambda: F.conv2d(a, b),
        }
        with torch.no_grad():
            for op, fn in ops.items():
                seconds = time_call(device, fn)
                rows.append({"layer": L["layer"], "op": op, "m": m, "n": cout, "k": k, "flops": flops,
                             "ms": seconds * 1e3, "gflops": flops / seconds / 1e9})
        del x, wt, dy, a, b
    return {"impl": "torch", "backend": device.type, "threads": torch.get_num_threads(), "torch": torch.__version__, "layers": rows}


def time_gemms(device, n, s):
    """FP32 (TF32 off) torch.mm on each distinct 3x3 conv GEMM; TFLOP/s = 2 M N K / time."""
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    results = []
    try:
        for g in conv3x3_gemms(n, s):
            a = torch.randn(g["m"], g["k"], device=device)
            b = torch.randn(g["k"], g["n"], device=device)
            seconds = time_call(device, lambda: torch.mm(a, b))
            results.append({**g, "ms": seconds * 1e3, "tflops": 2 * g["m"] * g["n"] * g["k"] / seconds / 1e12})
            del a, b
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    return results


def bench(batch, size, steps, warmup, mode, gemm):
    if size % 32 != 0:
        raise SystemExit(f"--size must be a multiple of 32 (the UNet halves it five times), got {size}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if mode == "fp32":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = Unet().to(device)
    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == PARAMETERS, f"UNet: {parameters} parameters, expected {PARAMETERS}"
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    x_host, t_host = synthetic_batch(batch, size)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def train_step():
        # The host batch goes up inside the step, as ours uploads it every step.
        x, t = x_host.to(device), t_host.to(device)
        opt.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(x), t)
        loss.backward()
        opt.step()
        return loss.item()  # waits for the step, as ours and tfjs read the loss back every step

    def infer():
        with torch.no_grad():
            model(x_host.to(device)).cpu()

    model.train()
    final_loss = float("nan")
    for _ in range(warmup):
        final_loss = train_step()
    sync(device)
    step_ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        final_loss = train_step()
        step_ms.append((time.perf_counter() - t0) * 1e3)

    model.eval()
    if warmup > 0:
        infer()
    sync(device)
    infer_ms = []
    for _ in range(max(INFER_MIN_RUNS, steps)):
        t0 = time.perf_counter()
        infer()
        infer_ms.append((time.perf_counter() - t0) * 1e3)

    step, inference = statistics.median(step_ms), statistics.median(infer_ms)
    result = {
        "impl": "torch",
        "backend": device.type,
        "adapter": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu"),
        "batch": batch,
        "size": size,
        "stepMs": step,
        "trainImagesPerSecond": 1000 * batch / step,
        "inferMs": inference,
        "inferImagesPerSecond": 1000 * batch / inference,
        "steps": steps,
        "parameters": parameters,
        "finalLoss": final_loss,
        "mode": mode,
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
        "encoder": model.encoder.source,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "maxMemoryReservedBytes": torch.cuda.max_memory_reserved(device) if device.type == "cuda" else None,
    }
    if gemm:
        # After the memory figure: the GEMM operands are not the network's.
        result["gemm"] = time_gemms(device, batch, size)
    return result


LAYER_FIELDS = ("layer", "n", "h", "w", "cin", "cout", "kh", "kw", "stride", "pad")


def read_layers(path):
    """The --layers list, checked: a one-line error naming the file (exit 2), never a traceback."""

    def fail(message):
        print(f"torch_peer.py: --layers {path}: {message}", file=sys.stderr)
        sys.exit(2)

    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        layers = json.loads(text)
    except (OSError, ValueError) as err:
        fail(str(err))
    if not isinstance(layers, list) or not layers:
        fail("expected a non-empty JSON list of layers")
    for i, L in enumerate(layers):
        missing = [f for f in LAYER_FIELDS if not isinstance(L, dict) or f not in L]
        if missing:
            fail(f"layer {i} lacks {', '.join(missing)}")
        if any(not isinstance(L[f], int) or L[f] < (0 if f == "pad" else 1) for f in LAYER_FIELDS[1:]):
            fail(f"layer {i} ({L['layer']}): sizes must be positive integers (pad >= 0)")
    return layers


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    p.add_argument("--mode", choices=("fp32", "default"), default="fp32")
    p.add_argument("--gemm", action="store_true", help="also time FP32 torch.mm on the 3x3 conv GEMM shapes")
    p.add_argument("--threads", type=int, default=0, help="PyTorch's intra-op threads (default: its own choice)")
    p.add_argument("--layers", metavar="FILE", help="time single conv layers listed in FILE (- for standard input) instead of the network")
    p.add_argument("--json", action="store_true", help="accepted for symmetry with the other benchmarks; output is always JSON")
    a = p.parse_args()
    if a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 0:
        p.error("--batch and --steps must be >= 1, --warmup and --threads >= 0")
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.layers:
        print(json.dumps(time_layers(read_layers(a.layers))))
        return
    print(json.dumps(bench(a.batch, a.size, a.steps, a.warmup, a.mode, a.gemm)))


if __name__ == "__main__":
    main()
