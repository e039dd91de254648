"""Peak memory at both lengths: derived from the planning and stitch figures' max RSS (it measures
nothing itself, so --only memory runs them, and it is redone whenever they all run). Ours must
grow with length by no more than ffmpeg doing the same job grows (the MP4 index), plus 4 MiB."""

NAME = "memory"
TITLE = "Peak memory (max RSS, `/usr/bin/time -v`)"
SUMMARY = "max RSS of plan and both stitches at the two lengths, against ffmpeg's growth (from plan, stitch-*)"
ORDER = 50
VERSION = 1
NEEDS = ("plan", "stitch-copy", "stitch-reencode")
DERIVED = True
TOOLS = ()
TARGETS = ["memory flat with length (our max RSS grows by at most what ffmpeg's own job grows by, + 4 MiB)"]
PAIRS = [("plan", "ffmpeg silencedetect"), ("stitch copy", "ffmpeg concat copy"),
         ("stitch --reencode", "ffmpeg concat + libx264")]


def run(ctx):
    peaks = {}
    for need in NEEDS:
        peaks.update(ctx.results[need]["rss"])
    return {"short": ctx.short, "long": ctx.long, "peaks": peaks}


def table(d):
    """[(label, short MiB, long MiB, growth, flat or None for a baseline)]."""
    s, l = str(d["short"]), str(d["long"])
    out = []
    for label, baseline in PAIRS:
        v, b = d["peaks"].get(label, {}), d["peaks"].get(baseline, {})
        if s in v and l in v and s in b and l in b:
            growth, base_growth = v[l] - v[s], b[l] - b[s]
            out.append((label, v[s], v[l], growth, growth <= base_growth + 4))
            out.append((baseline, b[s], b[l], base_growth, None))
    return out


def targets(d):
    t = table(d)
    flat = all(f for _, _, _, _, f in t if f is not None)
    return [(f"memory flat with length ({d['short']} → {d['long']} min: our max RSS grows by at most what ffmpeg's "
             "own job grows by, + 4 MiB)", flat,
             "; ".join(f"{l}: {a:.0f} → {b:.0f} MiB ({g:+.1f})" for l, a, b, g, f in t))]


def render(d):
    out = [f"{d['short']} vs {d['long']} minutes, the peaks of the planning and stitch figures measured with it.\n",
           f"| command | {d['short']} min | {d['long']} min | growth | flat (growth ≤ baseline's + 4 MiB) |",
           "|---|---|---|---|---|"]
    for label, a, b, g, f in table(d):
        out.append(f"| {label} | {a:.0f} MiB | {b:.0f} MiB | {g:+.1f} MiB | "
                   f"{'yes' if f else 'no' if f is not None else '(baseline)'} |")
    out.append("\nNeither side keeps samples or frames. What grows with length is the MP4 index: a "
               "non-fragmented MP4 with its moov in front keeps a sample-table entry for every packet (at 60 "
               "minutes 90 000 video frames and about 138 000 MP3 frames) until the end, in FFmpeg's mov muxer, "
               "which both sides use. The planner keeps a loudness envelope of 8 bytes per 10 ms and a few "
               "numbers per output frame: a few MB per hour of audio.")
    return "\n".join(out)
