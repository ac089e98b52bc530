#!/usr/bin/env python3
"""Golden numbers for `construction: published` (tasks/src/suite/multi_mnist/published.rs).

An independent implementation of Sener & Koltun's MultiMNIST loader
(multi_task/loaders/multi_mnist_loader.py in isl-org/MultiObjectiveOptimization): the
canvas with NumPy, SciPy's `bytescale` formula (scipy.misc.imresize applies it before
resizing; scipy.misc is gone from today's SciPy, so the formula is written out), PIL's own
`Image.resize(..., Image.NEAREST)`, and torchvision's ToTensor + Normalize in float32.
Prints the pixels and the sum the Rust test pins. Needs numpy and Pillow.
"""
import numpy as np
from PIL import Image


def bytescale(data):
    cmin, cmax = data.min(), data.max()
    cscale = cmax - cmin
    if cscale == 0:
        cscale = 1
    scale = float(255 - 0) / cscale
    bytedata = (data - cmin) * scale + 0
    return (bytedata.clip(0, 255) + 0.5).astype(np.uint8)


def loader_image(lim, rim):
    new_im = np.zeros((36, 36))
    new_im[0:28, 0:28] = lim
    new_im[6:34, 6:34] = rim
    new_im[6:28, 6:28] = np.maximum(lim[6:28, 6:28], rim[0:22, 0:22])
    img = Image.fromarray(bytescale(new_im), mode="L").resize((28, 28), Image.NEAREST)
    x = np.asarray(img).astype(np.float32) / np.float32(255)
    return (x - np.float32(0.1307)) / np.float32(0.3081)


def picture(f):
    return np.array([[f(r, c) for c in range(28)] for r in range(28)], dtype=np.uint8)


cases = {
    "textured": (
        picture(lambda r, c: (r * 37 + c * 11) % 256),
        picture(lambda r, c: (r * 5 + c * 29 + 3) % 200),
    ),
    "flat 50 / 100": (picture(lambda r, c: 50), picture(lambda r, c: 100)),
}
for name, (lim, rim) in cases.items():
    x = loader_image(lim, rim)
    print(name)
    for r, c in [(0, 0), (2, 2), (3, 17), (10, 10), (14, 27), (21, 5), (27, 27)]:
        print(f"  ({r}, {c}): {x[r, c]!r}")
    print(f"  sum (float64): {x.astype(np.float64).sum()!r}")
