#!/usr/bin/env bash
# Regenerates the two-person conversation fixtures (conversation-*) of the multi-speaker tests.
#
# Two espeak-ng voices (A: en-us, B: en+f3) read a fixed script with a known truth: turns with
# gaps, short interjections ("yeah", "mm-hm") and one overlap where B talks over the end of A's
# turn. Each voice is placed on its own 16 kHz mono track; each speaker's "microphone" hears its
# own voice plus the other's at -15 dB (bleed), as two mics in one room do.
#
# Writes:
#   conversation-mix.opus     the final mix (A + B), what AUDIO is
#   conversation-a.opus       A's microphone (A + B at -15 dB), for speaker tracks
#   conversation-b.opus       B's microphone (B + A at -15 dB)
#   conversation-stereo.mp3   A's microphone on the left, B's on the right (channels 0 and 1)
#   conversation.rttm         the truth as an RTTM file (names A and B)
#   conversation.truth.json   {"duration", "utterances": [{speaker, text, start, end}],
#                              "shots": [{speaker, gapStart, gapEnd}]}: each shot's speaker and
#                              the gap its change lies in (the first shot starts at 0)
#
# Needs espeak-ng, sox, opusenc, lame and python3 (standard library). Deterministic: fixed text,
# fixed placements, no randomness. Usage: ./make-conversation-fixtures.sh (from any directory).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
for tool in espeak-ng sox opusenc lame python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# speaker|voice|placement|text. Placement: "gap S" starts S seconds after the previous
# utterance's voice ends; "at S" starts S seconds after the previous utterance's voice starts
# (an interjection inside it); "overlap S" starts S seconds before the previous one's voice ends.
cat > "$TMP/script.txt" <<'EOF'
A|en-us|gap 0.60|Welcome back to the show. Today we are talking about very long recordings.
B|en+f3|gap 0.35|Yeah.
A|en-us|gap 0.40|They are harder to handle than you would think.
B|en+f3|gap 0.55|Thanks for having me. I have been working on this problem for a while now.
A|en-us|at 1.50|Mm-hm.
B|en+f3|gap 0.30|The first version read the whole file into memory at once.
A|en-us|overlap 0.60|Right, and that is exactly why we stream it in small chunks.
A|en-us|gap 0.30|It keeps the memory flat, however long the recording is.
B|en+f3|gap 0.45|That makes sense. See you next week.
EOF

i=0
while IFS='|' read -r speaker voice placement text; do
  espeak-ng -v "$voice" -s 165 -w "$TMP/u$i.wav" "$text"
  sox "$TMP/u$i.wav" -r 16000 -b 16 "$TMP/r$i.wav"
  echo "$speaker|$placement|$text|$TMP/r$i.wav" >> "$TMP/list.txt"
  i=$((i + 1))
done < "$TMP/script.txt"

python3 - "$TMP/list.txt" "$TMP" <<'PY'
import array, json, sys, wave

rate = 16000
bleed = 10 ** (-15 / 20)
items = [line.rstrip("\n").split("|") for line in open(sys.argv[1])]
tmp = sys.argv[2]

def load(path):
    with wave.open(path) as w:
        assert w.getframerate() == rate and w.getnchannels() == 1 and w.getsampwidth() == 2
        data = array.array("h", w.readframes(w.getnframes()))
    # espeak pads each utterance with silence: keep the voiced part only.
    voiced = [i for i, s in enumerate(data) if abs(s) > 64]
    return data[voiced[0]:voiced[-1] + 1]

utterances = []
previous = None
for speaker, placement, text, path in items:
    samples = load(path)
    kind, seconds = placement.split()
    offset = round(float(seconds) * rate)
    if previous is None:
        start = offset
    elif kind == "gap":
        start = previous["endSample"] + offset
    elif kind == "at":
        start = previous["startSample"] + offset
    else:
        start = previous["endSample"] - offset
    u = {"speaker": speaker, "text": text, "startSample": start, "endSample": start + len(samples),
         "samples": samples}
    utterances.append(u)
    if kind != "at":
        previous = u

total = max(u["endSample"] for u in utterances) + round(0.7 * rate)
voices = {"A": [0.0] * total, "B": [0.0] * total}
for u in utterances:
    track = voices[u["speaker"]]
    for i, s in enumerate(u["samples"]):
        track[u["startSample"] + i] += s / 32768

def clip(x):
    return max(-32768, min(32767, round(x * 32768)))

def write(name, channels):
    with wave.open(f"{tmp}/{name}.wav", "wb") as w:
        w.setnchannels(len(channels)); w.setsampwidth(2); w.setframerate(rate)
        frames = array.array("h")
        for i in range(total):
            for c in channels:
                frames.append(clip(c[i]))
        w.writeframes(frames.tobytes())

a, b = voices["A"], voices["B"]
mic_a = [a[i] + bleed * b[i] for i in range(total)]
mic_b = [b[i] + bleed * a[i] for i in range(total)]
write("mix", [[0.8 * (a[i] + b[i]) for i in range(total)]])
write("a", [mic_a])
write("b", [mic_b])
write("stereo", [mic_a, mic_b])

# The truth's shots: interjections (< 2 s) stay in the shot, the overlap stays with A until A
# stops, so each change lies between the last voice of one shot and the first of the next.
def seconds(n):
    return round(n / rate, 4)

turns = []
for u in sorted(utterances, key=lambda u: u["startSample"]):
    if turns and turns[-1]["speaker"] == u["speaker"]:
        turns[-1]["end"] = max(turns[-1]["end"], u["endSample"])
    elif u["endSample"] - u["startSample"] < 2 * rate:
        turns[-1]["end"] = max(turns[-1]["end"], u["endSample"])  # an interjection
    else:
        turns.append({"speaker": u["speaker"], "start": u["startSample"], "end": u["endSample"]})
shots = []
for i, t in enumerate(turns):
    if i == 0:
        shots.append({"speaker": t["speaker"], "gapStart": 0, "gapEnd": 0})
    else:
        before = turns[i - 1]["end"]
        # Overlapping speech: the change waits until the floor holder stops.
        shots.append({"speaker": t["speaker"], "gapStart": seconds(before),
                      "gapEnd": seconds(max(before, t["start"]))})

with open("conversation.truth.json", "w") as f:
    json.dump({"duration": seconds(total),
               "utterances": [{"speaker": u["speaker"], "text": u["text"], "start": seconds(u["startSample"]),
                               "end": seconds(u["endSample"])} for u in utterances],
               "shots": shots}, f, indent=1)
    f.write("\n")
with open("conversation.rttm", "w") as f:
    for u in utterances:
        start = seconds(u["startSample"])
        f.write(f"SPEAKER conversation 1 {start:.3f} {seconds(u['endSample']) - start:.3f} <NA> <NA> "
                f"{u['speaker']} <NA> <NA>\n")
PY

opusenc --quiet --bitrate 16 --speech "$TMP/mix.wav" conversation-mix.opus
opusenc --quiet --bitrate 16 --speech "$TMP/a.wav" conversation-a.opus
opusenc --quiet --bitrate 16 --speech "$TMP/b.wav" conversation-b.opus
# Simple stereo (no joint coding), so each channel keeps its own microphone.
lame --quiet -m s -b 48 "$TMP/stereo.wav" conversation-stereo.mp3

ls -l conversation-* conversation.*
