"""One 100-step continuation of 0.7.0 with run r23's recipe and the seed given: ``python run.py SEED``.

Run twice (seeds 101 and 202), side by side, from the repository root; the two runs differ only in the seed
(data order, augmentation draws, dropout).  The split and the figshare split are r23's.
"""

import json
import sys
from pathlib import Path

from training.config import TrainConfig
from training.trainer import start_run

seed = int(sys.argv[1])
config = json.loads(Path("weights/training_run/retraining_r23/run_config.json").read_text(encoding="utf-8"))
for derived in ("global_batch_size", "peak_learning_rate"):
    config.pop(derived, None)
config.update(
    out=f"/work/runs/spread/s{seed}", seed=seed, init_weights="weights", max_steps_per_epoch=100, stages=[[128, 1]]
)
print(start_run(TrainConfig.from_json(config), None, "one"))
