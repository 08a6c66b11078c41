#!/usr/bin/python3
"""Regenerates the reference files in this folder with Pillow (Debian python3-pil).

They are an independent reference for imaging's Go code:
  resize/src_rgb.png, resize/src_rgba.png   synthetic sources (gradients, edges, noise)
  resize/<src>_<W>x<H>.png                  Image.resize((W, H), BILINEAR) of the source,
                                            after convert("RGB") (which drops alpha)
  cmyk.jpg                                  a CMYK JPEG (Go's image/jpeg cannot write one)
  lossy.webp, lossless.webp                 WebP samples (golang.org/x/image has no encoder)
  jpeg/<name>.jpg, jpeg/<name>.png          JPEGs in several chroma subsamplings and modes, and
                                            the RGB pixels Pillow (libjpeg-turbo) decodes from them

Run from anywhere: /usr/bin/python3 internal/imaging/testdata/generate.py
"""
import os
import random

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [(31, 19), (13, 9), (40, 40), (256, 161), (97, 30), (50, 61), (200, 7)]


def source(mode, w=97, h=61, seed=1):
    rnd = random.Random(seed)
    im = Image.new(mode, (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            r = (x * 255) // (w - 1)
            g = (y * 255) // (h - 1)
            b = 255 if (x // 8 + y // 8) % 2 else 0  # hard edges: where antialiasing shows
            if 40 <= x < 60 and 20 <= y < 40:
                r, g, b = rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)
            if mode == "RGBA":
                px[x, y] = (r, g, b, (x * 7 + y * 3) % 256)
            else:
                px[x, y] = (r, g, b)
    return im


def main():
    out = os.path.join(HERE, "resize")
    os.makedirs(out, exist_ok=True)
    for name, mode in (("src_rgb", "RGB"), ("src_rgba", "RGBA")):
        im = source(mode)
        im.save(os.path.join(out, name + ".png"))
        rgb = im.convert("RGB")
        for w, h in SIZES:
            rgb.resize((w, h), Image.BILINEAR).save(os.path.join(out, "%s_%dx%d.png" % (name, w, h)))

    # Quadrants of known colours, so the Go test can check the CMYK->RGB conversion.
    im = Image.new("RGB", (48, 32))
    px = im.load()
    for y in range(32):
        for x in range(48):
            px[x, y] = [(220, 30, 30), (30, 200, 40), (30, 40, 210), (240, 240, 240)][(x >= 24) + 2 * (y >= 16)]
    im.convert("CMYK").save(os.path.join(HERE, "cmyk.jpg"), quality=95)
    im.save(os.path.join(HERE, "lossy.webp"), quality=80)
    im.save(os.path.join(HERE, "lossless.webp"), lossless=True)

    # Odd sizes, so the chroma planes have a half-covered last column and row.
    out = os.path.join(HERE, "jpeg")
    os.makedirs(out, exist_ok=True)
    src = source("RGB", 101, 67, seed=2)
    variants = {
        "420": dict(subsampling=2),
        "422": dict(subsampling=1),
        "444": dict(subsampling=0),
        "420_progressive": dict(subsampling=2, progressive=True),
        "420_q30": dict(subsampling=2, quality=30),
    }
    for name, opts in variants.items():
        opts.setdefault("quality", 85)
        path = os.path.join(out, name + ".jpg")
        src.save(path, **opts)
        Image.open(path).convert("RGB").save(os.path.join(out, name + ".png"))
    gray = os.path.join(out, "gray.jpg")
    src.convert("L").save(gray, quality=85)
    Image.open(gray).convert("RGB").save(os.path.join(out, "gray.png"))


if __name__ == "__main__":
    main()
