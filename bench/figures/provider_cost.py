"""The price and the seams of the same job on each provider: `infinistitch plan AUDIO --json
--provider X` on 10- and 60-minute speech (10 minutes only with --quick), for fal and WaveSpeed;
the baseline is fal, the provider every earlier figure assumes."""

import json

from lib.measure import run as run_cmd

NAME = "provider-cost"
TITLE = "Cost and seams on each provider"
SUMMARY = "infinistitch plan --json --provider fal|wavespeed on 10- and 60-min speech (10 with --quick)"
ORDER = 72
VERSION = 1
PROVIDERS = ("fal", "wavespeed")
METHOD = ["Providers: `infinistitch plan AUDIO --json --provider fal` and `--provider wavespeed` (480p, the "
          "defaults: on fal requests of at most 721 frames, on WaveSpeed the fewest requests that a multiple of "
          "the concurrency, 4, allows); the cost, paid seconds and requests are each plan's own, checked against the "
          "`prices` the other provider's plan shows for it."]


def run(ctx):
    minutes = (10,) if ctx.quick else (10, 60)
    out = {}
    for m in minutes:
        audio = ctx.speech(m)
        ctx.log(f"== provider prices of {m} minutes of speech (load {ctx.loadavg(f'provider-cost {m} min')})")
        plans = {p: json.loads(run_cmd([ctx.tool, "plan", audio, "--json", "--provider", p])) for p in PROVIDERS}
        row = {}
        for p, plan in plans.items():
            own = plan["prices"][p]
            lengths = [s["frameCount"] / plan["fps"] for s in plan["segments"]]
            row[p] = {"cost": own["cost"], "paidSeconds": own["paidSeconds"], "requests": own["requests"],
                      "seams": own["seams"], "segments": len(plan["segments"]), "provider": plan.get("provider"),
                      "audioSeconds": plan["audio"]["duration"], "longest": max(lengths), "shortest": min(lengths),
                      "prices": plan["prices"]}
            if len(plan["segments"]) != own["requests"] or plan.get("provider") != p:
                raise SystemExit(f"bench/run: plan --provider {p} of {m} min: provider {plan.get('provider')}, "
                                 f"{len(plan['segments'])} segments, prices say {own['requests']} requests")
            ctx.log(f"  {m} min on {p}: ${own['cost']:.2f}, {own['requests']} requests, {own['seams']} seams")
        for p in PROVIDERS:
            for q in PROVIDERS:
                a, b = plans[p]["prices"].get(q), plans[q]["prices"][q]
                if a is None or abs(a["cost"] - b["cost"]) > 0.005 or a["requests"] != b["requests"]:
                    raise SystemExit(f"bench/run: the {q} price in plan --provider {p} ({a}) is not the "
                                     f"{q} plan's own ({b})")
        out[str(m)] = row
    return {"minutes": list(minutes), "plans": out}


def rows(d):
    out = []
    for m in d["minutes"]:
        r = d["plans"][str(m)]
        w, f = r["wavespeed"], r["fal"]
        out.append((f"{m}-min speech, 480p: cost on WaveSpeed vs fal (`plan --provider`)",
                    f"${w['cost']:.2f}", f"${f['cost']:.2f}", f"{w['cost'] / f['cost']:.3f}×",
                    f"seams {w['seams']} vs {f['seams']}; paid {w['paidSeconds']:.0f} s vs {f['paidSeconds']:.2f} s "
                    f"for {w['audioSeconds']:.0f} s of audio"))
    return out


def render(d):
    out = ["`infinistitch plan AUDIO --json --provider X` on the generated speech (480p, the default request "
           "lengths; WaveSpeed's default plan is for concurrency 4, the default).\n",
           "| audio | provider | cost | paid seconds | requests | seams | segment lengths |",
           "|---|---|---|---|---|---|---|"]
    for m in d["minutes"]:
        for p in PROVIDERS:
            r = d["plans"][str(m)][p]
            out.append(f"| {m} min ({r['audioSeconds']:.1f} s) | {p} | ${r['cost']:.2f} | {r['paidSeconds']:.2f} | "
                       f"{r['requests']} | {r['seams']} | {r['shortest']:.2f}–{r['longest']:.2f} s |")
    out.append("")
    for m in d["minutes"]:
        r = d["plans"][str(m)]
        out.append(f"{m} minutes: WaveSpeed costs {r['wavespeed']['cost'] / r['fal']['cost']:.3f}× fal's price "
                   f"(${r['fal']['cost'] - r['wavespeed']['cost']:.2f} less) with {r['wavespeed']['seams']} seams "
                   f"instead of {r['fal']['seams']}.")
    return "\n".join(out)
