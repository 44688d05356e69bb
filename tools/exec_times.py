"""Print each chapter's execution time from a built book's Sphinx environment.

    .venv/bin/python tools/exec_times.py [BUILD_DIR]    # default: _build

Times are those of the last execution of each chapter (a chapter served from the cache
keeps the time of the run that filled the cache).
"""

import pickle
import sys
from pathlib import Path

build = Path(sys.argv[1] if len(sys.argv) > 1 else "_build")
with open(build / ".doctrees" / "environment.pickle", "rb") as f:
    env = pickle.load(f)
for doc, meta in sorted(env.nb_metadata.items()):
    data = meta.get("exec_data")
    if data:
        print(
            f"{doc:28s} {data['runtime']:6.1f} s  "
            f"{data['method']}  ok={data['succeeded']}"
        )
