#!/usr/bin/python3
"""Writes the golden files that internal/augment's tests compare against.

The reference is Keras 3's legacy ImageDataGenerator
(keras/src/legacy/preprocessing/image.py: apply_affine_transform,
transform_matrix_offset_center, flip_axis, apply_brightness_shift and the
order in ImageDataGenerator.apply_transform), re-implemented here on top of
the same libraries Keras calls: numpy, scipy.ndimage.affine_transform (order 1)
and PIL.ImageEnhance.Brightness. Keras itself is not needed. The older
keras-preprocessing 1.1.2 behaviour is re-implemented too, for the Legacy112
option.

Run from the repository root with Debian's Python:
    /usr/bin/python3 tools/kerasref/make_golden.py
It rewrites internal/augment/testdata/keras3.json.gz and legacy112.json.gz.
With --check-installed it first runs every legacy112 case through an
installed keras_preprocessing as well (apt-get install
python3-keras-preprocessing) and stops if any value differs.
"""

import gzip
import json
import os
import sys

import numpy as np
import PIL
import scipy
from PIL import Image, ImageEnhance
from scipy import ndimage

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "..", "internal", "augment", "testdata")


# --- Keras 3 (keras/src/legacy/preprocessing/image.py) ---------------------

def offset_center(matrix, x, y, legacy):
    # Keras 3 centres on (x/2 - 0.5, y/2 - 0.5), the true pixel centre;
    # keras-preprocessing 1.1.2 used + 0.5, one pixel past it.
    d = 0.5 if legacy else -0.5
    o_x = float(x) / 2 + d
    o_y = float(y) / 2 + d
    offset_matrix = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset_matrix = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return np.dot(np.dot(offset_matrix, matrix), reset_matrix)


def affine(x, theta, tx, ty, shear, zx, zy, fill_mode, cval, legacy):
    """apply_affine_transform for channels_last (row 0, col 1, channel 2)."""
    row_axis, col_axis, channel_axis = 0, 1, 2
    transform_matrix = None
    if theta != 0:
        theta = np.deg2rad(theta)
        transform_matrix = np.array([[np.cos(theta), -np.sin(theta), 0],
                                     [np.sin(theta), np.cos(theta), 0],
                                     [0, 0, 1]])
    if tx != 0 or ty != 0:
        shift_matrix = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
        transform_matrix = shift_matrix if transform_matrix is None else np.dot(
            transform_matrix, shift_matrix)
    if shear != 0:
        shear = np.deg2rad(shear)
        shear_matrix = np.array([[1, -np.sin(shear), 0],
                                 [0, np.cos(shear), 0],
                                 [0, 0, 1]])
        transform_matrix = shear_matrix if transform_matrix is None else np.dot(
            transform_matrix, shear_matrix)
    if zx != 1 or zy != 1:
        zoom_matrix = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
        transform_matrix = zoom_matrix if transform_matrix is None else np.dot(
            transform_matrix, zoom_matrix)
    if transform_matrix is None:
        return x
    h, w = x.shape[row_axis], x.shape[col_axis]
    transform_matrix = offset_center(transform_matrix, h, w, legacy)
    x = np.rollaxis(x, channel_axis, 0)
    if not legacy and col_axis > row_axis:
        # Keras 3's M' = PMP swap: the matrix is built for (x, y) but applied
        # to (row, col), so tx moves columns and the pivot's coordinates swap.
        transform_matrix[:, [0, 1]] = transform_matrix[:, [1, 0]]
        transform_matrix[[0, 1]] = transform_matrix[[1, 0]]
    final_affine_matrix = transform_matrix[:2, :2]
    final_offset = transform_matrix[:2, 2]
    channel_images = [
        ndimage.affine_transform(x_channel, final_affine_matrix, final_offset,
                                 order=1, mode=fill_mode, cval=cval)
        for x_channel in x
    ]
    x = np.stack(channel_images, axis=0)
    return np.rollaxis(x, 0, channel_axis + 1)


def array_to_img(x, scale, legacy):
    x = np.asarray(x, dtype=np.float32)
    if scale:
        if legacy:
            # keras-preprocessing 1.1.2 utils.array_to_img
            x = x + max(-np.min(x), 0)
        else:
            x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    if x.shape[2] == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if x.shape[2] == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    return Image.fromarray(x[:, :, 0].astype("uint8"), "L")


def img_to_array(img):
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        x = x.reshape((x.shape[0], x.shape[1], 1))
    return x


def brightness_shift(x, brightness, legacy):
    if legacy:
        # 1.1.2: apply_brightness_shift(x, brightness) always min-max scaled.
        img = array_to_img(x, True, True)
        return img_to_array(ImageEnhance.Brightness(img).enhance(brightness))
    # Keras 3 passes scale=False from ImageDataGenerator.apply_transform.
    x_min, x_max = np.min(x), np.max(x)
    local_scale = (x_min < 0) or (x_max > 255)
    img = array_to_img(x, local_scale, False)
    x = img_to_array(ImageEnhance.Brightness(img).enhance(brightness))
    if local_scale:
        x = x / 255 * (x_max - x_min) + x_min
    return x


def channel_shift(x, intensity):
    """apply_channel_shift (the same in 1.1.2 and Keras 3): one intensity for
    every channel, clipped to the range of the whole image."""
    lo, hi = np.min(x), np.max(x)
    # A Python float added to a float32 array stays float32 in numpy, both
    # before and after NEP 50.
    return np.stack([np.clip(x[:, :, k] + intensity, lo, hi)
                     for k in range(x.shape[2])], axis=2)


def apply_transform(x, t, fill_mode, cval, legacy):
    """ImageDataGenerator.apply_transform, channels_last."""
    x = affine(x, t["theta"], t["tx"], t["ty"], t["shear"], t["zx"], t["zy"],
               fill_mode, cval, legacy)
    if t["channel_shift"] is not None:
        x = channel_shift(x, float(t["channel_shift"]))
    if t["flip_h"]:
        x = np.flip(x, 1)
    if t["flip_v"]:
        x = np.flip(x, 0)
    if t["brightness"] is not None:
        x = brightness_shift(x, t["brightness"], legacy)
    return np.ascontiguousarray(x, dtype=np.float32)


# --- inputs and cases -------------------------------------------------------

def pattern(h, w, c, lo=0.0, hi=255.0):
    """Integer-valued, asymmetric in every axis, so a wrong axis or sign shows."""
    r, q, k = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    v = (37 * r + 11 * q * q + 53 * k + 7 * r * q) % 256
    v = v.astype(np.float64) / 255.0 * (hi - lo) + lo
    if lo == 0.0 and hi == 255.0:
        v = np.round(v)
    return v.astype(np.float32)


INPUTS = {
    "rgb16x12": pattern(16, 12, 3),
    "gray16x12": pattern(16, 12, 1),
    "rgba9x14": pattern(9, 14, 4),
    "signed16x12": pattern(16, 12, 3, -1.0, 1.0),
    "hdr16x12": pattern(16, 12, 3, -20.0, 300.0),
    "row1x5": pattern(1, 5, 1),
    # Non-square, both ways round: a swapped axis, a pivot on the wrong side
    # or a round trip through PIL that transposed would show here and not on
    # the square-ish inputs above.
    "rgb12x20": pattern(12, 20, 3),
    "rgb20x12": pattern(20, 12, 3),
    "rgb48x64": pattern(48, 64, 3),
    "rgb64x48": pattern(64, 48, 3),
    # Inside 0..255 but not touching either end, as most photos: 1.1.2's
    # brightness stretches it to 0..255 first, Keras 3's leaves it alone.
    "mid48x64": np.round(pattern(48, 64, 3, 21.5, 233.25)),
    "unit20x12": pattern(20, 12, 3, 0.0, 1.0),
    "gray20x12": pattern(20, 12, 1),
    "rgba12x20": pattern(12, 20, 4),
}


def T(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, flip_h=False,
      flip_v=False, channel_shift=None, brightness=None):
    return dict(theta=theta, tx=tx, ty=ty, shear=shear, zx=zx, zy=zy,
                flip_h=flip_h, flip_v=flip_v, channel_shift=channel_shift,
                brightness=brightness)


MODES = ["nearest", "constant", "reflect", "wrap"]


def affine_cases():
    cases = []
    for m in MODES:
        cases.append(("rotate_" + m, "rgb16x12", T(theta=23.7), m, 17.5))
        cases.append(("shift_" + m, "rgb16x12", T(tx=3.3, ty=-2.6), m, 17.5))
        cases.append(("farshift_" + m, "rgb16x12", T(tx=-25.4, ty=31.7), m, 17.5))
        cases.append(("row_shift_" + m, "row1x5", T(tx=1.6, ty=0.4), m, 9.0))
    cases += [
        ("rotate_neg_nearest", "rgb16x12", T(theta=-131.2), "nearest", 0.0),
        ("intshift_constant", "rgb16x12", T(tx=2.0, ty=-3.0), "constant", 5.0),
        ("shear_nearest", "rgb16x12", T(shear=17.0), "nearest", 0.0),
        ("shear_constant", "rgb16x12", T(shear=-28.3), "constant", 3.0),
        ("zoomin_reflect", "rgb16x12", T(zx=0.73, zy=0.81), "reflect", 0.0),
        ("zoomout_constant", "rgb16x12", T(zx=1.6, zy=1.45), "constant", 40.0),
        ("zoomout_wrap", "rgb16x12", T(zx=1.37, zy=1.9), "wrap", 0.0),
        ("flip_h", "rgb16x12", T(flip_h=True), "nearest", 0.0),
        ("flip_v", "rgb16x12", T(flip_v=True), "nearest", 0.0),
        ("flip_both", "rgb16x12", T(flip_h=True, flip_v=True), "nearest", 0.0),
        ("rotate_flip_h_wrap", "rgb16x12", T(theta=8.1, flip_h=True), "wrap", 0.0),
        ("gray_rotate_reflect", "gray16x12", T(theta=-47.0), "reflect", 0.0),
        ("rgba_zoom_shear", "rgba9x14", T(shear=11.0, zx=1.2, zy=0.9), "nearest", 0.0),
    ]
    return cases


def brightness_cases():
    return [
        ("bright_dim", "rgb16x12", T(brightness=0.63), "nearest", 0.0),
        ("bright_clip", "rgb16x12", T(brightness=1.41), "nearest", 0.0),
        ("bright_third", "rgb16x12", T(brightness=1.0 / 3.0), "nearest", 0.0),
        ("bright_gray", "gray16x12", T(brightness=0.87), "nearest", 0.0),
        ("bright_rgba", "rgba9x14", T(brightness=1.19), "nearest", 0.0),
        ("bright_signed", "signed16x12", T(brightness=0.77), "nearest", 0.0),
        ("bright_hdr", "hdr16x12", T(brightness=1.3), "nearest", 0.0),
    ]


def combined_cases():
    return [
        ("combined_reflect", "rgb16x12",
         T(theta=-12.5, tx=1.7, ty=-2.2, shear=6.3, zx=0.91, zy=1.12,
           flip_h=True, brightness=1.23), "reflect", 0.0),
        ("combined_constant", "rgb16x12",
         T(theta=31.0, tx=-0.9, ty=2.4, shear=-4.4, zx=1.08, zy=0.95,
           flip_v=True, brightness=0.71), "constant", 11.0),
        ("combined_signed_wrap", "signed16x12",
         T(theta=5.5, tx=-1.1, zx=0.97, zy=1.03, flip_h=True, flip_v=True,
           brightness=1.6), "wrap", 0.0),
    ]


def channel_shift_cases():
    return [
        ("chshift_up", "rgb16x12", T(channel_shift=37.3), "nearest", 0.0),
        ("chshift_down", "rgb16x12", T(channel_shift=-81.9), "nearest", 0.0),
        ("chshift_gray", "gray16x12", T(channel_shift=12.25), "nearest", 0.0),
        ("chshift_rgba", "rgba9x14", T(channel_shift=-20.5), "nearest", 0.0),
        ("chshift_signed", "signed16x12", T(channel_shift=0.3137), "nearest", 0.0),
        ("chshift_hdr", "hdr16x12", T(channel_shift=-55.5), "nearest", 0.0),
        # A constant fill outside the image's range widens the clip range.
        ("chshift_after_constant", "rgb16x12",
         T(tx=4.5, ty=-3.0, channel_shift=60.0), "constant", 300.0),
        ("chshift_flip_bright", "rgb16x12",
         T(flip_h=True, flip_v=True, channel_shift=-15.0, brightness=1.3),
         "nearest", 0.0),
    ]


def nonsquare_cases():
    cases = []
    for inp in ("rgb12x20", "rgb20x12"):
        for m in MODES:
            cases.append(("ns_rotate_%s_%s" % (m, inp), inp, T(theta=19.4), m, 23.0))
            cases.append(("ns_shift_%s_%s" % (m, inp), inp, T(tx=4.6, ty=-7.2), m, 23.0))
        cases += [
            ("ns_shear_%s" % inp, inp, T(shear=-14.0), "reflect", 0.0),
            ("ns_zoomin_%s" % inp, inp, T(zx=0.77, zy=0.86), "nearest", 0.0),
            ("ns_zoomout_%s" % inp, inp, T(zx=1.3, zy=1.15), "constant", 9.0),
            ("ns_flip_h_%s" % inp, inp, T(flip_h=True), "nearest", 0.0),
            ("ns_flip_v_%s" % inp, inp, T(flip_v=True), "nearest", 0.0),
            ("ns_flips_rotate_%s" % inp, inp, T(theta=-7.0, flip_h=True, flip_v=True),
             "wrap", 0.0),
            ("ns_chshift_%s" % inp, inp, T(channel_shift=-44.4), "nearest", 0.0),
        ]
    cases += [
        ("ns_gray_rotate_zoom", "gray20x12", T(theta=33.0, zx=1.1, zy=0.9), "reflect", 0.0),
        ("ns_rgba_shear_shift", "rgba12x20", T(shear=9.0, tx=-2.2, ty=3.1), "constant", 40.0),
    ]
    for inp in ("mid48x64", "unit20x12"):
        cases += [
            ("ns_bright_dim_%s" % inp, inp, T(brightness=0.71), "nearest", 0.0),
            ("ns_bright_up_%s" % inp, inp, T(brightness=1.37), "nearest", 0.0),
        ]
    cases += [
        ("ns_bright_up_rgb64x48", "rgb64x48", T(brightness=1.37), "nearest", 0.0),
        ("ns_chshift_bright_rgb64x48", "rgb64x48",
         T(channel_shift=9.5, brightness=1.12), "nearest", 0.0),
        ("ns_chshift_bright_unit20x12", "unit20x12",
         T(channel_shift=0.05, brightness=0.9), "nearest", 0.0),
    ]
    for inp in ("rgb48x64", "rgb64x48"):
        cases.append(("ns_combined_%s" % inp, inp,
                      T(theta=-11.0, tx=3.4, ty=-5.9, shear=4.2, zx=0.93, zy=1.08,
                        flip_h=True, channel_shift=-18.0, brightness=1.21),
                      "reflect", 0.0))
    return cases


def shortest(v):
    # Shortest decimal that reads back as the same float32.
    return float(np.format_float_positional(np.float32(v), unique=True))


def render(cases, legacy):
    used = sorted({c[1] for c in cases})
    out = {
        "generator": "tools/kerasref/make_golden.py",
        "reference": ("keras-preprocessing 1.1.2 ImageDataGenerator" if legacy
                      else "Keras 3 legacy ImageDataGenerator"),
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "scipy": scipy.__version__, "pillow": PIL.__version__},
        "inputs": {},
        "cases": [],
    }
    for name in used:
        x = INPUTS[name]
        out["inputs"][name] = {"h": x.shape[0], "w": x.shape[1], "c": x.shape[2],
                               "data": [shortest(v) for v in x.ravel()]}
    for name, inp, t, mode, cval in cases:
        y = apply_transform(INPUTS[inp].copy(), t, mode, cval, legacy)
        out["cases"].append({"name": name, "input": inp, "transform": t,
                             "fill_mode": mode, "cval": cval,
                             "want": [shortest(v) for v in y.ravel()]})
    return out


def check_installed(cases):
    """Compares the 1.1.2 re-implementation with an installed
    keras_preprocessing (Debian's python3-keras-preprocessing is 1.1.0, whose
    affine_transformations.py, array_to_img, img_to_array and
    ImageDataGenerator.apply_transform are the same as 1.1.2's)."""
    from keras_preprocessing.image import ImageDataGenerator
    worst = 0.0
    for name, inp, t, mode, cval in cases:
        gen = ImageDataGenerator(fill_mode=mode, cval=cval)
        params = dict(theta=t["theta"], tx=t["tx"], ty=t["ty"], shear=t["shear"],
                      zx=t["zx"], zy=t["zy"], flip_horizontal=t["flip_h"],
                      flip_vertical=t["flip_v"], brightness=t["brightness"],
                      channel_shift_intensity=t["channel_shift"])
        real = gen.apply_transform(INPUTS[inp].copy(), params).astype(np.float32)
        ours = apply_transform(INPUTS[inp].copy(), t, mode, cval, True)
        d = float(np.max(np.abs(real - ours)))
        worst = max(worst, d)
        if d != 0:
            print("check-installed: %s differs by %g" % (name, d))
    print("check-installed: %d legacy112 cases against keras_preprocessing %s, "
          "largest difference %g" % (len(cases), keras_version(), worst))
    if worst != 0:
        sys.exit(1)


def keras_version():
    import keras_preprocessing
    return getattr(keras_preprocessing, "__version__", "?")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    square = affine_cases() + brightness_cases() + combined_cases()
    everything = square + channel_shift_cases() + nonsquare_cases()
    legacy = [c for c in square if c[0] in {
        "rotate_nearest", "shift_constant", "farshift_reflect", "row_shift_wrap",
        "shear_nearest", "zoomin_reflect", "zoomout_wrap", "flip_both",
        "bright_dim", "bright_signed", "bright_hdr", "bright_rgba",
        "combined_reflect", "combined_constant"}]
    legacy += [c for c in channel_shift_cases() if c[0] in {
        "chshift_up", "chshift_signed", "chshift_after_constant",
        "chshift_flip_bright"}]
    legacy += nonsquare_cases()
    if "--check-installed" in sys.argv:
        check_installed(legacy)
    for fname, cases, leg in (("keras3.json", everything, False),
                              ("legacy112.json", legacy, True)):
        path = os.path.join(OUT_DIR, fname + ".gz")
        text = json.dumps(render(cases, leg), separators=(",", ":")) + "\n"
        # Gzipped (mtime 0, so a rerun writes the same bytes): the
        # non-square cases are large as text and compress about five-fold.
        with open(path, "wb") as raw, gzip.GzipFile(
                filename=fname, mode="wb", fileobj=raw, mtime=0) as f:
            f.write(text.encode())
        print("wrote", os.path.relpath(path), len(cases), "cases")


if __name__ == "__main__":
    main()
