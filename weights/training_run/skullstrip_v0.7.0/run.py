"""One 100-step continuation of 0.7.0 with run r23's recipe plus skull-stripped draws: ``python run.py SEED``.

The same command as ``spread_v0.7.0/run.py`` (same start, split, schedule and seeds 101 and 202) with
``skull_strip`` = 0.3 added to the realism draws.  The strip draw comes last in each sample's draws and only
when it is on, so every other draw, the data order and the dropout are those of the spread run with the
same seed: the pair differs in the stripping alone.
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
    out=f"/work/runs/skull/s{seed}", seed=seed, init_weights="weights", max_steps_per_epoch=100, stages=[[128, 1]]
)
config["realism"]["skull_strip"] = 0.3
print(start_run(TrainConfig.from_json(config), None, "one"))
