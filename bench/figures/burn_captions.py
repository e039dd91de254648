"""Burned captions: `infinistitch stitch --captions FILE.srt --burn-captions` against the same
stitch without captions (`--reencode`, the path burning takes), at both lengths, alternating.
The captions are a cue of two lines every 3.6 s over the whole speech (3 s on, 0.6 s off), so
the burner draws on five frames in six."""

import os

from lib import stitching
from lib.measure import alternate, cpu_note, fmt_s, kept, med, peak, walls

NAME = "burn-captions"
TITLE = "Stitch with burned captions"
SUMMARY = "stitch 10 and 60 min with --burn-captions (3 and 10 with --quick) vs the same --reencode stitch without captions"
ORDER = 45
VERSION = 1
TARGETS = ["burning captions adds at most 25 % to the re-encode stitch's wall time"]

WORDS = ("the lander touched down gently and nobody in the room said a word then everyone began to cheer "
         "as the first pictures came back from the surface").split()


def srt_time(t):
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path, duration):
    """A cue of two lines of about 36 characters every 3.6 s, up to a second before the end."""
    with open(path, "w") as f:
        n, t = 0, 0.0
        while t + 3.0 <= duration - 1.0:
            words = [WORDS[(n * 7 + k) % len(WORDS)] for k in range(12)]
            f.write(f"{n + 1}\n{srt_time(t)} --> {srt_time(t + 3.0)}\n{' '.join(words[:6])}\n{' '.join(words[6:])}\n\n")
            n, t = n + 1, t + 3.6
    return n


def run(ctx):
    R = ctx.runs
    data = {"size": list(ctx.size), "quick": ctx.quick, "runs": R, "lengths": {}, "rss": {}}
    for minutes in ctx.lengths:
        plan, clips, ours, _ = stitching.prepare(ctx, minutes)
        srt = os.path.join(ctx.work, f"captions-{minutes}m.srt")
        cues = write_srt(srt, plan["audio"]["duration"])
        out_burn, out_plain = (os.path.join(ctx.work, f"stitch-{minutes}m-{k}.mp4") for k in ("burned", "plain"))
        ctx.log(f"== stitch with burned captions ({cues} cues), {minutes} min "
                f"(load {ctx.loadavg(f'burn {minutes} min')})")
        cmds = {"burned": ours + ["--captions", srt, "--burn-captions", "-o", out_burn] + clips,
                "plain": ours + ["--reencode", "-o", out_plain] + clips}
        r = alternate(cmds, R, f"burn {minutes}m")
        o = stitching.length_data(plan, clips)
        o.update(stitching.outputs(out_burn, out_plain))
        o.update({"cues": cues, "burned": kept(r["burned"]), "plain": kept(r["plain"])})
        data["lengths"][str(minutes)] = o
        data["rss"].setdefault("stitch --burn-captions", {})[str(minutes)] = peak(r["burned"])
        data["rss"].setdefault("stitch --reencode", {})[str(minutes)] = peak(r["plain"])
    return data


def rows(d):
    out = []
    for minutes, o in d["lengths"].items():
        ours, base = med(o["burned"]), med(o["plain"])
        out.append((f"stitch {minutes} min with `--burn-captions` ({o['cues']} cues) vs the same `--reencode` stitch",
                    fmt_s(ours), fmt_s(base), f"{ours / base:.2f}×",
                    f"{cpu_note(o['burned'], o['plain'])}; {stitching.frames_note(o)}"))
    return out


def targets(d):
    ratios = {m: med(o["burned"]) / med(o["plain"]) for m, o in d["lengths"].items()}
    return [(TARGETS[0], all(v <= 1.25 for v in ratios.values()),
             ", ".join(f"{m} min: {v:.2f}×" for m, v in ratios.items())
             + (" (60 min not measured: --quick)" if d["quick"] else ""))]


def notes(d):
    out = []
    for minutes, o in d["lengths"].items():
        T, (fb, fp), (sb, sp) = o["T"], o["frames"], o["start"]
        if fb != T or fp != T:
            out.append(f"**{minutes} min: the burned stitch wrote {fb} frames and the plain one {fp}, not T={T}**")
        if abs(sb - sp) > 0.001:
            out.append(f"**{minutes} min: the burned video starts {sb * 1000:+.0f} ms, the plain one {sp * 1000:+.0f} ms**")
    return out


def render(d):
    w, h = d["size"]
    runs = "; ".join(f"{m} min: burned {walls(o['burned'])}, plain {walls(o['plain'])}" for m, o in d["lengths"].items())
    return (f"`infinistitch stitch --captions FILE.srt --burn-captions` (libass through libavfilter's `ass` filter, on "
            f"every decoded frame of the re-encode path) against the same stitch with `--reencode` and no captions, "
            f"on {w}x{h} clips ({stitching.clips_text(d)}); a two-line cue every 3.6 s over the whole speech. "
            f"All runs, alternating: {runs}.")
