"""The figure modules under bench/figures/, found by listing the directory: adding a figure is
adding a file there. A figure module has

    NAME = "plan"                  what --only and --list call it (unique)
    TITLE = "Planning speed"       its section's heading in BENCHMARKS.md
    SUMMARY = "..."                one line for --list
    ORDER = 10                     where its rows and section go (lower first)
    VERSION = 1                    of the shape of its data; a stored result of another version is not rendered
    def run(ctx) -> data           measures; data must be JSON (it is stored and rendered later)

and optionally

    NEEDS = ("plan", ...)          figures that must run in the same invocation, before it (--only adds them)
    DERIVED = True                 measures nothing itself: it also runs whenever all its NEEDS run
    TOOLS = ("ffmpeg", ...)        commands it needs on PATH (default: ffmpeg, ffprobe, espeak-ng, swift)
    TARGETS = ["..."]              its targets' names, listed as "not measured yet" before it has a result
    def add_arguments(parser)      its own options
    def rows(data) -> [(figure, ours, baseline, ours ÷ baseline, notes)]   rows of the Results table
    def targets(data) -> [(target, met: bool or None, detail)]
    def notes(data) -> [str]
    def render(data) -> str        the body of its section (markdown, without the heading)
    METHOD = ["..."]               bullets of the Method section
"""

import importlib
import os

from .paths import FIGURES

DEFAULT_TOOLS = ("ffmpeg", "ffprobe", "espeak-ng", "swift")


def discover():
    """Every figure module, in ORDER (a figure after the figures it NEEDS)."""
    modules = []
    for filename in sorted(os.listdir(FIGURES)):
        if not filename.endswith(".py") or filename.startswith("_"):
            continue
        module = importlib.import_module("figures." + filename[:-3])
        for attribute in ("NAME", "TITLE", "SUMMARY", "VERSION", "run"):
            if not hasattr(module, attribute):
                raise SystemExit(f"bench/run: bench/figures/{filename} has no {attribute}")
        modules.append(module)
    names = [m.NAME for m in modules]
    for name in names:
        if names.count(name) > 1:
            raise SystemExit(f"bench/run: two figures are called {name}")
    for m in modules:
        for need in needs(m):
            if need not in names:
                raise SystemExit(f"bench/run: figure {m.NAME} needs {need}, which does not exist")
    return ordered(modules)


def needs(module):
    return tuple(getattr(module, "NEEDS", ()))


def ordered(modules):
    """By ORDER, then NAME; a figure moved after everything it needs."""
    pending = sorted(modules, key=lambda m: (getattr(m, "ORDER", 1000), m.NAME))
    done, out = set(), []
    while pending:
        for i, m in enumerate(pending):
            if all(n in done or n not in {p.NAME for p in pending} for n in needs(m)):
                out.append(pending.pop(i))
                done.add(m.NAME)
                break
        else:
            raise SystemExit("bench/run: the figures' NEEDS form a cycle: " + ", ".join(m.NAME for m in pending))
    return out


def select(modules, only):
    """The figures to run for --only NAMES (all when empty): each named one, what it needs,
    and every derived figure whose needs all run."""
    if not only:
        return list(modules)
    by_name = {m.NAME: m for m in modules}
    wanted = set()

    def add(name):
        if name in wanted:
            return
        wanted.add(name)
        for need in needs(by_name[name]):
            add(need)

    for name in only:
        if name not in by_name:
            raise SystemExit(f"bench/run: no figure {name!r}; bench/run --list lists them: "
                             + ", ".join(by_name))
        add(name)
    for m in modules:
        if getattr(m, "DERIVED", False) and needs(m) and all(n in wanted for n in needs(m)):
            wanted.add(m.NAME)
    return [m for m in modules if m.NAME in wanted]
