"""One 100-step continuation of 0.7.0 with run r23's recipe: ``python run.py SEED [OUT [NAME=VALUE ...]]``.

Run twice (seeds 101 and 202), side by side, from the repository root; the two runs differ only in the seed
(data order, augmentation draws, dropout).  The split and the figshare split are r23's.  OUT defaults to
``/work/runs/spread/sSEED``; each ``NAME=VALUE`` changes one of r23's realism settings, for a run paired
with the spread run of the same seed (``../skullstrip_v0.7.0/``: ``skull_strip=0.3``); a run setting of
``TrainConfig`` is changed the same way (``strip_consistency_weight=1``, ``max_steps_per_epoch=200``).  A
value is read as JSON, so ``200`` stays an integer.
"""

import json
import sys
from dataclasses import fields
from pathlib import Path

from training.config import TrainConfig
from training.trainer import start_run

seed = int(sys.argv[1])
out = sys.argv[2] if len(sys.argv) > 2 else f"/work/runs/spread/s{seed}"
config = json.loads(Path("weights/training_run/retraining_r23/run_config.json").read_text(encoding="utf-8"))
for derived in ("global_batch_size", "peak_learning_rate"):
    config.pop(derived, None)
config.update(out=out, seed=seed, init_weights="weights", max_steps_per_epoch=100, stages=[[128, 1]])
run_settings = {f.name for f in fields(TrainConfig)} - {"realism"}
for setting in sys.argv[3:]:
    name, _, value = setting.partition("=")
    # a run setting (strip_consistency_weight, max_steps_per_epoch) or one of the realism settings; an unknown
    # name is refused by TrainConfig.from_json
    (config if name in run_settings else config["realism"])[name] = json.loads(value)
print(start_run(TrainConfig.from_json(config), None, "one"))
