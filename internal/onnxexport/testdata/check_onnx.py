"""Checks an exported ONNX file with tools independent of scour and of ONNX
Runtime: python3-onnx's checker, then OpenCV's dnn module on the given input,
compared with scour's own probabilities.

usage: check_onnx.py MODEL INPUT.f32 N S EXPECTED.f32 CLASSES [EMBEDDING.f32 DIM ZOO.onnx]
Prints one JSON object. Input, expected and embeddings (scour's L2-normalised
embeddings, for a head exported with its embedding model) are raw
little-endian float32. With ZOO (the embedding model alone), OpenCV also
runs it on the input normalised here, to tell the export's own error from
OpenCV's int8 arithmetic. OpenCV's probabilities (and raw embeddings) are
written beside MODEL as opencv_probs.f32 (and opencv_emb.f32).
"""
import json
import os
import sys

import numpy as np


def main():
    model, inp, n, s, exp, classes = sys.argv[1:7]
    n, s, classes = int(n), int(s), int(classes)
    out = {}
    import onnx
    m = onnx.load(model)
    onnx.checker.check_model(m, full_check=True)
    out["checker"] = "ok"
    out["onnx_version"] = onnx.__version__
    out["metadata"] = {p.key: p.value for p in m.metadata_props}

    import cv2
    out["opencv_version"] = cv2.__version__
    x = np.fromfile(inp, dtype="<f4").reshape(n, 3, s, s)
    want = np.fromfile(exp, dtype="<f4").reshape(n, classes)
    try:
        net = cv2.dnn.readNetFromONNX(model)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        # One image at a time: OpenCV fixes some shapes at the first forward.
        emb_name = None
        if len(sys.argv) > 7:
            # OpenCV 4.6 names a layer "onnx_node!" + the ONNX node name, and
            # finds intermediate outputs only by layer name.
            node = next(nd for nd in m.graph.node if "embedding_1280" in nd.output)
            emb_name = "onnx_node!" + node.name
            if emb_name not in net.getLayerNames():
                emb_name = "embedding_1280"
        got, embs = [], []
        for i in range(n):
            net.setInput(x[i : i + 1], "image")
            if emb_name:
                p, e = net.forward(["probabilities", emb_name])
                embs.append(e.reshape(-1))
            else:
                p = net.forward("probabilities")
            got.append(p.reshape(classes))
        got = np.stack(got)
    except cv2.error as e:
        out["opencv_error"] = str(e)
        print(json.dumps(out))
        return
    d = os.path.dirname(os.path.abspath(model))
    got.astype("<f4").tofile(os.path.join(d, "opencv_probs.f32"))
    if embs:
        np.stack(embs).astype("<f4").tofile(os.path.join(d, "opencv_emb.f32"))
    out["max_abs_diff"] = float(np.max(np.abs(got - want)))
    out["top1_agree"] = int(np.sum(got.argmax(1) == want.argmax(1)))
    out["sum_min"] = float(got.sum(1).min())
    if len(sys.argv) > 7:
        dim = int(sys.argv[8])
        ref = np.fromfile(sys.argv[7], dtype="<f4").reshape(n, dim)
        e = np.stack(embs).astype(np.float64)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        out["embedding_max_abs_diff"] = float(np.max(np.abs(e - ref)))
        out["embedding_min_cosine"] = float(np.min(np.sum(e * ref, axis=1)))
        zoo = cv2.dnn.readNetFromONNX(sys.argv[9])
        node = next(nd for nd in onnx.load(sys.argv[9]).graph.node if "embedding_1280" in nd.output)
        mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
        std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
        xn = ((x.astype(np.float64) - mean) / std).astype(np.float32)
        ze = []
        for i in range(n):
            zoo.setInput(xn[i : i + 1], "input")
            ze.append(zoo.forward("onnx_node!" + node.name).reshape(-1))
        ze = np.stack(ze).astype(np.float64)
        ze /= np.linalg.norm(ze, axis=1, keepdims=True)
        out["zoo_embedding_max_abs_diff"] = float(np.max(np.abs(e - ze)))
        out["zoo_embedding_min_cosine"] = float(np.min(np.sum(ze * ref, axis=1)))
    print(json.dumps(out))


main()
