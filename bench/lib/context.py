"""What the driver hands each figure's run(ctx): the options, the release builds (made on first
use), the shared inputs (made on first use, reused from bench/out/inputs), a work directory of
its own, and a way to note the load average when a part of it starts."""

import json
import os
import shutil

from . import inputs
from .measure import loadavg, log, run
from .paths import INPUTS, ROOT, WORK


class Context:
    def __init__(self, args, machine):
        self.args = args
        self.quick = args.quick
        self.runs = args.runs
        # The two lengths of the long figures: --quick compares 3 with 10 minutes instead of 10 with 60.
        self.short, self.long = (3, 10) if args.quick else (10, 60)
        self.lengths = [self.short, self.long]
        self.size = tuple(int(x) for x in args.clip_size.split("x"))
        self.scratch = args.scratch_path
        self.machine = machine
        self.results = {}   # name -> data, of the figures measured in this invocation
        self.figure = None
        self.loads = []     # (label, load average) of the current figure
        self._bins = {}
        self._memo = {}
        self._bindir = None

    log = staticmethod(log)

    # -- per figure

    def begin(self, name):
        """Called by the driver before a figure runs: empties its work directory."""
        self.figure = name
        self.loads = []
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(INPUTS, exist_ok=True)

    @property
    def work(self):
        """bench/out/work/<figure>: the current figure's scratch files."""
        return os.path.join(WORK, self.figure or "_")

    def loadavg(self, label):
        """The load average now, recorded under `label` for the Machine section; returns it."""
        value = loadavg()
        self.loads.append((label, value))
        return value

    def memo(self, key, make):
        """make(), once per invocation (e.g. a helper's output two figures read)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # -- builds

    def _swift(self, *extra):
        return ["swift", "build", "-c", "release", "--scratch-path", self.scratch] + list(extra)

    def bin(self, product):
        """The path of a release build of `product` (`swift build -c release --product P`,
        with --scratch-path), built on first use."""
        if product not in self._bins:
            log(f"== build (swift build -c release --product {product} --scratch-path {self.scratch})")
            run(self._swift("--product", product), cwd=ROOT)
            if self._bindir is None:
                self._bindir = run(self._swift("--show-bin-path"), cwd=ROOT).strip()
            self._bins[product] = os.path.join(self._bindir, product)
        return self._bins[product]

    @property
    def tool(self):
        return self.bin("infinistitch")

    def version(self):
        """infinistitch --version, if this invocation built it (None otherwise)."""
        if "infinistitch" not in self._bins:
            return None
        return self.memo("version", lambda: run([self.tool, "--version"]).strip())

    # -- inputs

    def speech(self, minutes=None, seconds=None):
        """bench/out/inputs/speech-{M}m.mp3 (or speech-e2e-{S}s.mp3 for `seconds`)."""
        if seconds is not None:
            path = os.path.join(INPUTS, f"speech-e2e-{seconds}s.mp3")
        else:
            path = os.path.join(INPUTS, f"speech-{minutes}m.mp3")
            seconds = minutes * 60
        if not os.path.exists(path):
            log(f"  speech {os.path.basename(path)}")
            inputs.make_speech(seconds, path)
        return path

    def plan_file(self, minutes):
        """bench/out/inputs/plan-{M}m.json: `infinistitch plan --json` of the speech, made once."""
        path = os.path.join(INPUTS, f"plan-{minutes}m.json")
        if not os.path.exists(path):
            text = run([self.tool, "plan", self.speech(minutes), "--json"])
            with open(path, "w") as f:
                f.write(text)
        return path

    def clips(self, minutes, size=None, plan_path=None):
        """The clips of a plan (default: plan_file(minutes)) at `size` (default --clip-size),
        under bench/out/inputs/clips-{M}m-{W}x{H}; returns (paths, plan). Notes libx264's
        version in the machine record."""
        size = size or self.size
        paths, plan = inputs.make_clips(plan_path or self.plan_file(minutes), self.speech(minutes),
                                        os.path.join(INPUTS, f"clips-{minutes}m-{size[0]}x{size[1]}"), size)
        if self.machine.get("x264", "?") == "?" and paths:
            self.machine["x264"] = inputs.x264_version(paths[0]) or "?"
        return paths, plan

    def big_jpeg(self):
        path = os.path.join(INPUTS, "photo-6000x4000.jpg")
        inputs.make_big_jpeg(path)
        return path

    def read_json(self, path):
        with open(path) as f:
            return json.load(f)
