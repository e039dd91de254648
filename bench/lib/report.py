"""BENCHMARKS.md, written whole from the stored results: a header, the machine(s), the Results
table and the Targets of every figure, one section per figure (in ORDER), the Notes and the
Method. A figure without a stored result (or with one of an older VERSION of the figure) keeps
its place and says how to measure it."""

import os

from .machine import now
from .paths import ROOT

HEADER = ("figure", "ours", "baseline", "ours ÷ baseline", "notes")


def table(rows):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def usable(module, record):
    return record is not None and record.get("version") == module.VERSION


def missing(module, record):
    """Why a figure has nothing to show, and how to measure it."""
    if record is None:
        why = "not measured yet"
    else:
        why = (f"the stored result ({record['meta']['date']}) is from version {record.get('version')} of this "
               f"figure, not {module.VERSION}")
    return f"{why} — run `bench/run --only {module.NAME}`"


def part(module, name, data, default=()):
    f = getattr(module, name, None)
    return list(f(data)) if f else list(default)


def provenance(meta):
    build = f"commit {meta['commit']}" + (f", infinistitch {meta['version']}" if meta.get("version") else "")
    return (f"*Measured on {meta['date']} by `{meta['command']}` ({build}; {meta['elapsed'] / 60:.1f} minutes, builds and inputs included; "
            f"load average {meta['load_start']} at the start, {meta['load_end']} at the end).*")


def grouped(items):
    """items: [(figure, value or None)] → one value, or each value with the figures it holds for."""
    groups = {}
    for name, value in items:
        if value not in (None, "?"):
            groups.setdefault(value, []).append(name)
    if not groups:
        return "?"
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{v} ({', '.join(names)})" for v, names in groups.items())


def machine_section(measured):
    """measured: [(name, meta)] of the figures with results."""
    def field(fn):
        return grouped([(name, fn(meta["machine"], meta)) for name, meta in measured])

    out = ["## Machine\n", "| | |", "|---|---|"]
    out.append("| CPU | " + field(lambda c, m: f"{c['cpu']}, nproc = {c['nproc']}") + " |")
    out.append("| RAM | " + field(lambda c, m: c["ram"]) + " |")
    out.append("| OS | " + field(lambda c, m: f"{c['os']}, Linux {c['kernel']}") + " |")
    out.append("| Swift | " + field(lambda c, m: c["swift"]) + " |")
    x264 = field(lambda c, m: c.get("x264"))
    out.append("| FFmpeg | " + field(lambda c, m: c["ffmpeg"]) + " (CLI and the libraries we link)"
               + ("" if x264 == "?" else f", {x264}") + " |")
    version = field(lambda c, m: m.get("version"))
    out.append("| infinistitch | " + ("" if version == "?" else f"{version}, ")
               + "commit " + field(lambda c, m: m["commit"]) + ", `swift build -c release` |")
    loads = [f"{label} {value}" for _, meta in measured for label, value in meta.get("loads", [])]
    out.append(f"| load average | at the start of each part: {', '.join(loads) or '—'} |\n")
    return out


def render(modules, records, results_dir):
    """The whole report. records: {name: stored record or None}."""
    ok = {m.NAME: records.get(m.NAME) for m in modules if usable(m, records.get(m.NAME))}
    measured = [(m.NAME, ok[m.NAME]["meta"]) for m in modules if m.NAME in ok]
    where = os.path.relpath(results_dir, ROOT)
    if where.startswith(".."):
        where = results_dir
    out = ["# Benchmarks\n",
           f"Written by `bench/run` on {now()} from the last result of each figure (stored in `{where}/`); each "
           "section says when, by which command and at which commit it was measured. Do not edit by hand: run "
           "`bench/run` again (`bench/run --only FIGURE` measures one figure and keeps the others' last results; "
           "`bench/run --list` lists them).\n"]
    if measured:
        out += machine_section(measured)

    rows = []
    runs = set()
    for m in modules:
        if not hasattr(m, "rows"):
            continue
        if m.NAME in ok:
            rows += part(m, "rows", ok[m.NAME]["data"])
            runs.add(ok[m.NAME]["meta"]["runs"])
        else:
            rows.append((m.TITLE, missing(m, records.get(m.NAME)), "", "", ""))
    how = f"{runs.pop()} runs" if len(runs) == 1 else "each figure's runs (its section says how many)"
    out.append("## Results\n")
    out.append(f"Times are wall-clock medians of {how}, ours and the baseline alternating, unless noted; CPU is user "
               "+ system time, also a median. Lower is better; a ratio below 1 means we are faster.\n")
    out.append(table(rows) + "\n")

    out.append("## Targets\n")
    for m in modules:
        if m.NAME in ok:
            for t, met, detail in part(m, "targets", ok[m.NAME]["data"]):
                if met is None:
                    out.append(f"- {t}: {detail}" if detail.startswith("not measured") else f"- {t}: not judged. {detail}")
                else:
                    out.append(f"- {t}: {'**met**' if met else '**missed**'}. {detail}")
        else:
            for t in getattr(m, "TARGETS", ()):
                out.append(f"- {t}: {missing(m, records.get(m.NAME))}.")
    out.append("")

    for m in modules:
        out.append(f"## {m.TITLE}\n")
        if m.NAME in ok:
            record = ok[m.NAME]
            body = m.render(record["data"]) if hasattr(m, "render") else ""
            if body.strip():
                out.append(body.rstrip("\n") + "\n")
            out.append(provenance(record["meta"]) + "\n")
        else:
            text = missing(m, records.get(m.NAME))
            out.append(text[0].upper() + text[1:] + ".\n")

    notes = [n for m in modules if m.NAME in ok for n in part(m, "notes", ok[m.NAME]["data"])]
    if notes:
        out.append("## Notes\n")
        out += [f"- {n}" for n in notes]
        out.append("")

    out.append("## Method\n")
    out.append("- Inputs are generated by `bench/run` (`bench/lib/inputs.py`) under `bench/out/inputs/` and reused "
               "when present: speech from espeak-ng (30 sentences in random order with 0.25–1.3 s pauses, faint pink "
               "noise), 44.1 kHz stereo MP3 at 128 kb/s; for each plan from `infinistitch plan X --json`, one clip per "
               "segment with exactly numFrames frames: the portrait swaying gently, H.264 25 fps (libx264 veryfast, "
               "CRF 20, GOP 250; the size and the clips' totals are in each figure's section), with the segment's "
               "audio as AAC like the model's clips; a 6000x4000 JPEG made from `Fixtures/portrait.png` upscaled, "
               "with grain.")
    out.append("- Every figure is measured in the same run as its baseline, with `/usr/bin/time -v` around each "
               "command (wall time from the runner, max RSS from time).")
    for m in modules:
        method = getattr(m, "METHOD", ())
        out += [f"- {b}" for b in (method(ok[m.NAME]["data"]) if callable(method) and m.NAME in ok
                                    else [] if callable(method) else method)]
    return "\n".join(out) + "\n"


def summary(modules, records):
    """What a run prints: the rows, then the targets, then the notes of the given figures."""
    rows, targets, notes = [], [], []
    for m in modules:
        record = records.get(m.NAME)
        if not usable(m, record):
            continue
        data = record["data"]
        rows += part(m, "rows", data)
        for t, met, detail in part(m, "targets", data):
            targets.append(f"{'MET   ' if met else 'MISSED' if met is not None else 'N/A   '} {t}: {detail}")
        notes += [f"note: {n}" for n in part(m, "notes", data)]
    return ((table(rows) + "\n\n") if rows else "") + "\n".join(targets + notes)
