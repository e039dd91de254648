"""Each figure's last result, one JSON file per figure: {"figure", "version", "meta", "data"}.

BENCHMARKS.md is rendered from these files alone, so a run of some figures (--only) leaves
the others' sections as they were last measured. The results behind the committed
BENCHMARKS.md are bench/results/ (committed with it); any other report keeps its own beside it
(bench/out/BENCHMARKS-quick.md: bench/out/BENCHMARKS-quick.results/), so that a --quick or
test run never replaces what BENCHMARKS.md shows."""

import json
import os

from .paths import REPORT, RESULTS


def directory(output, override=None):
    if override:
        return os.path.abspath(override)
    if os.path.abspath(output) == REPORT:
        return RESULTS
    return os.path.splitext(os.path.abspath(output))[0] + ".results"


def path(folder, name):
    return os.path.join(folder, f"{name}.json")


def load(folder, name):
    try:
        with open(path(folder, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def store(folder, name, record):
    os.makedirs(folder, exist_ok=True)
    tmp = path(folder, name) + ".partial"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path(folder, name))
