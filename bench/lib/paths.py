"""Where bench/run keeps things."""

import os

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, "out")                # generated, not committed
INPUTS = os.path.join(OUT, "inputs")            # reused between runs (--fresh-inputs remakes them)
WORK = os.path.join(OUT, "work")                # one directory per figure, emptied when it runs
RESULTS = os.path.join(BENCH, "results")        # the stored results behind BENCHMARKS.md (committed)
FIGURES = os.path.join(BENCH, "figures")
REPORT = os.path.join(ROOT, "BENCHMARKS.md")
PORTRAIT = os.path.join(ROOT, "Fixtures", "portrait.png")
FF = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
