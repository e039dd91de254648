#!/usr/bin/env bash
# Regenerates every test fixture in this directory.
#
# Inputs : the NASA public-domain portrait (default source/portrait-nasa.png beside this
#          script, override with PORTRAIT_SRC=/path/to/portrait.png), espeak-ng, ffmpeg.
# Needs  : ffmpeg/ffprobe (libx264, aac, libmp3lame, libvorbis, flac), espeak-ng,
#          ImageMagick 6 (`convert`, `compare`, `identify`), exiftool, python3 + numpy.
#
# Determinism: no randomness (fixed text, fixed pause list), bit-exact muxers and encoders,
# no timestamps in PNG/MP4/WAV, single-threaded x264. Output is reproducible on the
# same tool versions (x264/LAME/Vorbis versions do change the encoded bytes).
#
# Usage: ./make-fixtures.sh            (runnable from any cwd)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
HERE="$(pwd)"
PORTRAIT_SRC="${PORTRAIT_SRC:-$HERE/source/portrait-nasa.png}"
[[ -f "$PORTRAIT_SRC" ]] || { echo "portrait not found: $PORTRAIT_SRC" >&2; exit 1; }

for tool in ffmpeg ffprobe espeak-ng convert compare identify exiftool python3 file; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

export MAGICK_THREAD_LIMIT=1
export SOURCE_DATE_EPOCH=0
# Common ImageMagick output options: no metadata, no date/time chunks.
IM_OUT=(-strip -define png:exclude-chunks=date,time)
# Common ffmpeg options.
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
FFOUT=(-fflags +bitexact -flags +bitexact -map_metadata -1)

truncate_to_percent() { # src dst percent
  local n; n=$(( $(stat -c %s "$1") * $3 / 100 ))
  head -c "$n" "$1" > "$2"
}

echo "== images"
# --- base portrait, 384x384 8-bit RGB, non-interlaced ---------------------------
convert "$PORTRAIT_SRC" -resize 384x384 -depth 8 -type TrueColor -interlace None \
  "${IM_OUT[@]}" -define png:compression-level=9 PNG24:portrait.png

convert portrait.png -quality 90 -interlace None -sampling-factor 2x2 "${IM_OUT[@]}" portrait.jpg
# 16:9 (384x216) and 9:16 (216x384) crops
convert portrait.png -crop 384x216+0+24 +repage -quality 90 -interlace None \
  -sampling-factor 2x2 "${IM_OUT[@]}" portrait-wide.jpg
convert portrait.png -crop 216x384+84+0 +repage -depth 8 -type TrueColor \
  "${IM_OUT[@]}" PNG24:portrait-tall.png

# --- EXIF orientation set ---------------------------------------------------------
# Upright reference: 96x64 region of the portrait (face) with a red 16x16 square top-left.
convert portrait.png -crop 192x128+96+10 +repage -resize 96x64 \
  -fill '#FF0000' -draw 'rectangle 0,0 15,15' -depth 8 -type TrueColor \
  "${IM_OUT[@]}" PNG24:orient-upright.png
# stored = inverse of the display transform implied by tag N
orient_op() {
  case "$1" in
    1) echo "" ;;
    2) echo "-flop" ;;
    3) echo "-rotate 180" ;;
    4) echo "-flip" ;;
    5) echo "-transpose" ;;
    6) echo "-rotate 270" ;;   # stored = upright rotated 90 CCW; tag 6 says rotate CW
    7) echo "-transverse" ;;
    8) echo "-rotate 90" ;;    # stored = upright rotated 90 CW; tag 8 says rotate CCW
  esac
}
for n in 1 2 3 4 5 6 7 8; do
  # shellcheck disable=SC2046
  convert orient-upright.png $(orient_op "$n") +repage -quality 95 -interlace None \
    -sampling-factor 2x2 "${IM_OUT[@]}" "orient-$n.jpg"
  exiftool -q -n -Orientation="$n" -overwrite_original "orient-$n.jpg"
done

# Landscape 384x256 crop stored rotated (256x384) with Orientation=6
convert portrait.png -crop 384x256+0+20 +repage "${IM_OUT[@]}" PNG24:"$TMP/exif6-upright.png"
convert "$TMP/exif6-upright.png" -rotate 270 +repage -quality 90 -interlace None \
  -sampling-factor 2x2 "${IM_OUT[@]}" portrait-exif6.jpg
exiftool -q -n -Orientation=6 -overwrite_original portrait-exif6.jpg

# --- alpha: opaque disc r=96, 50%-alpha ring 96..120, transparent outside --------
convert -size 256x256 xc:black +antialias \
  -fill 'rgb(128,128,128)' -draw 'circle 127.5,127.5 127.5,7.5' \
  -fill white            -draw 'circle 127.5,127.5 127.5,31.5' \
  -depth 8 "$TMP/mask256.png"
convert portrait.png -resize 256x256 "$TMP/mask256.png" -alpha off \
  -compose CopyOpacity -composite -background black -alpha background -depth 8 \
  "${IM_OUT[@]}" -define png:color-type=6 PNG32:portrait-alpha.png

# --- JPEG variants 256x256 --------------------------------------------------------
convert portrait.png -resize 256x256 -colorspace Gray -type Grayscale -quality 90 \
  -interlace None "${IM_OUT[@]}" portrait-gray.jpg
convert portrait.png -resize 256x256 -quality 90 -interlace Plane -sampling-factor 2x2 \
  "${IM_OUT[@]}" portrait-progressive.jpg
convert portrait.png -resize 256x256 -colorspace CMYK -quality 90 -interlace None \
  "${IM_OUT[@]}" portrait-cmyk.jpg

# --- PNG variants 128x128 ---------------------------------------------------------
convert portrait.png -resize 128x128 -depth 16 "${IM_OUT[@]}" \
  -define png:color-type=2 -define png:bit-depth=16 PNG48:portrait-16bit.png
convert portrait.png -resize 128x128 "${IM_OUT[@]}" PNG8:portrait-palette.png
convert portrait.png -resize 128x128 -colorspace Gray -type Grayscale -depth 8 \
  "${IM_OUT[@]}" -define png:color-type=0 -define png:bit-depth=8 png:portrait-gray.png
convert "$TMP/mask256.png" -resize 128x128 "$TMP/mask128.png"
convert portrait.png -resize 128x128 -colorspace Gray "$TMP/mask128.png" -alpha off \
  -compose CopyOpacity -composite -depth 8 "${IM_OUT[@]}" \
  -define png:color-type=4 -define png:bit-depth=8 png:portrait-gray-alpha.png
convert portrait.png -resize 128x128 -depth 8 -type TrueColor -interlace PNG \
  "${IM_OUT[@]}" PNG24:portrait-interlaced.png
convert portrait.png -resize 32x32 -depth 8 -type TrueColor "${IM_OUT[@]}" PNG24:tiny.png

# --- PNG whose IHDR claims 20000x20000 (8-bit gray), with a few rows of data -----
python3 - <<'PY'
import struct, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
w = h = 20000
ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
rows = b"".join(b"\x00" + bytes([(y * 32) & 0xff]) * w for y in range(8))  # 8 rows only
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
open("huge-header.png", "wb").write(png)
PY

# --- broken images ----------------------------------------------------------------
truncate_to_percent portrait.jpg truncated.jpg 40
truncate_to_percent portrait.png truncated.png 40
printf 'this is not a png\n' > not-an-image.png
: > empty.png

echo "== audio"
say() { espeak-ng -v en-us -s 150 -w "$1" "$2"; }

# speech.wav: three sentences, two 600 ms digital-silence pauses, 22050 Hz mono s16
SHORT_SENTENCES=(
  "The lander touched down gently."
  "Nobody in the room said a word."
  "Then everyone began to cheer."
)
for i in 1 2 3; do say "$TMP/s$i.wav" "${SHORT_SENTENCES[$((i - 1))]}"; done
printf '%s\n' "${SHORT_SENTENCES[@]}" > "$TMP/short.txt"

# speech-long: sentences separated by known digital-silence pauses
LONG_SENTENCES=(
  "The rocket stood on the launch pad, white against the morning sky."
  "Three astronauts climbed into the small capsule at the very top."
  "The engines burned for less than three minutes."
  "Then the first stage fell away into the ocean far below."
  "Four days later, the spacecraft reached the Moon."
  "Two of the crew crawled through the tunnel into the lunar module."
  "They separated from the command ship and began to descend."
  "Alarms flashed on the computer, but the landing continued."
  "With only seconds of fuel left, the lander settled onto the dust."
  "The commander reported that they were safely down."
  "Hours later, he climbed slowly down the ladder."
  "His boots left deep prints in the fine gray soil."
  "They set up experiments that would keep running for years."
  "Then they lifted off and rejoined their partner in orbit."
  "The long journey home took three more days."
  "Finally, the capsule splashed down safely in the Pacific Ocean."
)
for i in "${!LONG_SENTENCES[@]}"; do
  say "$TMP/long-$(printf %02d "$i").wav" "${LONG_SENTENCES[$i]}"
done
printf '%s\n' "${LONG_SENTENCES[@]}" > "$TMP/long.txt"
# short: "Yes." at 16 kHz, padded/trimmed to exactly 0.5 s
say "$TMP/short-src.wav" "Yes."

python3 - "$TMP" <<'PY'
import json, sys, wave, glob, os
import numpy as np
tmp = sys.argv[1]
SR = 22050

def read(path):
    with wave.open(path) as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")

def write(path, x, sr=SR):
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
        w.writeframes(np.asarray(x, dtype="<i2").tobytes())

def silence(ms):
    return np.zeros(int(round(ms * SR / 1000)), dtype="<i2")

def build(pieces, pause_ms):
    """pieces: list of arrays; pause_ms: pauses between consecutive pieces."""
    assert len(pause_ms) == len(pieces) - 1
    out, pauses, pos = [], [], 0
    for i, p in enumerate(pieces):
        out.append(p); pos += len(p)
        if i < len(pause_ms):
            s = silence(pause_ms[i])
            pauses.append({"start": round(pos / SR, 6), "end": round((pos + len(s)) / SR, 6)})
            out.append(s); pos += len(s)
    return np.concatenate(out), pauses

def write_srt(path, text_file, pieces, pause_ms):
    """The sentences' transcript: each from where its piece starts to where it ends (the
    speaker's own silence at its edges included), the inserted pauses between them."""
    def stamp(samples):
        ms = int(round(samples * 1000 / SR)); h, ms = divmod(ms, 3600000); m, ms = divmod(ms, 60000); s, ms = divmod(ms, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"
    texts = open(text_file).read().splitlines()
    assert len(texts) == len(pieces)
    cues, pos = [], 0
    for i, (text, p) in enumerate(zip(texts, pieces)):
        cues.append(f"{i + 1}\n{stamp(pos)} --> {stamp(pos + len(p))}\n{text}\n")
        pos += len(p) + (len(silence(pause_ms[i])) if i < len(pause_ms) else 0)
    with open(path, "w") as f:
        f.write("\n".join(cues))

# speech.wav (~8 s) + its transcript
short = [read(f"{tmp}/s{i}.wav") for i in (1, 2, 3)]
x, _ = build(short, [600, 600])
write("speech.wav", x)
write_srt("speech.srt", f"{tmp}/short.txt", short, [600, 600])
print(f"speech.wav: {len(x)} samples = {len(x)/SR:.3f} s")

# speech-long.wav (~70 s) + pause list
PAUSES_MS = [300, 650, 450, 900, 550, 750, 400, 850, 600, 350, 800, 500, 700, 300, 900]
sent = [read(p) for p in sorted(glob.glob(f"{tmp}/long-*.wav"))]
for i, s in enumerate(sent):
    d = len(s) / SR
    assert 2.0 <= d <= 6.0, f"sentence {i} is {d:.2f} s, outside 2-6 s"
x, pauses = build(sent, PAUSES_MS)
write_srt("speech-long.srt", f"{tmp}/long.txt", sent, PAUSES_MS)
write(f"{tmp}/speech-long.wav", x)
total = len(x) / SR
edges = [0.0] + [p["start"] for p in pauses] + [total]
max_gap = max(b - a for a, b in zip(edges, edges[1:]))
assert max_gap <= 12.0, max_gap
with open("speech-long.pauses.json", "w") as f:
    json.dump([{"start": p["start"], "end": p["end"]} for p in pauses], f, indent=1)
    f.write("\n")
print(f"speech-long.wav: {len(x)} samples = {total:.3f} s, {len(pauses)} pauses, "
      f"longest stretch without an inserted pause {max_gap:.2f} s")

# zero-length.wav: valid header, no frames
write("zero-length.wav", np.zeros(0, dtype="<i2"))
PY

"${FF[@]}" -i speech.wav -ar 44100 -ac 2 -c:a libmp3lame -b:a 64k "${FFOUT[@]}" speech.mp3
"${FF[@]}" -i speech.wav -ar 22050 -ac 1 -c:a libmp3lame -q:a 6 "${FFOUT[@]}" speech-vbr.mp3
"${FF[@]}" -i speech.wav -ar 48000 -ac 2 -c:a aac -b:a 96k "${FFOUT[@]}" \
  -movflags +faststart speech.m4a
"${FF[@]}" -i speech.wav -ar 16000 -ac 1 -c:a flac -sample_fmt s16 "${FFOUT[@]}" speech.flac
"${FF[@]}" -i speech.wav -ar 44100 -ac 1 -c:a libvorbis -q:a 2 "${FFOUT[@]}" speech.ogg
"${FF[@]}" -i "$TMP/speech-long.wav" -ar 22050 -ac 1 -c:a libmp3lame -b:a 32k "${FFOUT[@]}" \
  speech-long.mp3

"${FF[@]}" -f lavfi -i anullsrc=r=22050:cl=mono -t 1 -c:a pcm_s16le "${FFOUT[@]}" silence-1s.wav
"${FF[@]}" -i "$TMP/short-src.wav" -af "aresample=16000,apad=whole_len=8000,atrim=end_sample=8000" \
  -ac 1 -c:a pcm_s16le "${FFOUT[@]}" short.wav
"${FF[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=3" \
  -f lavfi -i "sine=frequency=660:sample_rate=48000:duration=3" \
  -filter_complex "[0:a][1:a]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR[a]" \
  -map "[a]" -c:a pcm_s16le "${FFOUT[@]}" tone-stereo-48k.wav

truncate_to_percent speech.mp3 truncated.mp3 40
printf 'hello, I am not an mp3\n' > not-audio.mp3
: > empty.mp3

echo "== video"
# frames.py W H N R G B  -> raw rgb24 frames on stdout.
# Top 16 rows: 8 equal-width cells; cell k (k=0 leftmost) is 255 if bit k of the frame
# index is set, else 0. Rest of the frame: flat (R,G,B).
cat > "$TMP/frames.py" <<'PY'
import sys
import numpy as np
w, h, n, r, g, b = map(int, sys.argv[1:7])
cell = w // 8
out = sys.stdout.buffer
for i in range(n):
    f = np.empty((h, w, 3), dtype=np.uint8)
    f[:, :] = (r, g, b)
    f[:16, :] = 0
    for k in range(8):
        if (i >> k) & 1:
            f[:16, k * cell:(k + 1) * cell] = 255
    out.write(f.tobytes())
PY
X264=(-c:v libx264 -preset veryfast -crf 23 -g 1000 -bf 2 -pix_fmt yuv420p -threads 1)

# make_clip out W H FPS NFRAMES R G B TONE_HZ(0 = no audio)
make_clip() {
  local out=$1 w=$2 h=$3 fps=$4 n=$5 r=$6 g=$7 b=$8 tone=$9
  local dur; dur=$(python3 -c "print($n/$fps)")
  local audio_in=() audio_out=()
  if [[ "$tone" != 0 ]]; then
    audio_in=(-f lavfi -i "sine=frequency=$tone:sample_rate=48000:duration=$dur")
    audio_out=(-map 1:a -c:a aac -b:a 64k -ar 48000 -ac 1)
  fi
  python3 "$TMP/frames.py" "$w" "$h" "$n" "$r" "$g" "$b" |
    "${FF[@]}" -f rawvideo -pix_fmt rgb24 -s "${w}x${h}" -framerate "$fps" -i - \
      "${audio_in[@]}" -map 0:v "${X264[@]}" -r "$fps" "${audio_out[@]}" \
      "${FFOUT[@]}" -movflags +faststart "$out"
}
make_clip clip-a.mp4        128 128 25 41  60  90 160 440
make_clip clip-b.mp4        128 128 25 45 160  90  60 550
make_clip clip-c.mp4        128 128 25 41  60 160  90 0
make_clip clip-odd-size.mp4  96 128 25 41 160  60  90 440
make_clip clip-short.mp4    128 128 25 39  90  60 160 440
make_clip clip-30fps.mp4    128 128 30 41  90 160  60 440
# clip-corrupt.mp4 = clip-a.mp4 truncated to 50 % of its bytes (moov intact, mdat cut)
truncate_to_percent clip-a.mp4 clip-corrupt.mp4 50

# talk-video.mp4: 3 s of 128x128 25 fps video + first 3 s of speech.wav (AAC 44.1 kHz mono)
python3 "$TMP/frames.py" 128 128 75 128 128 128 |
  "${FF[@]}" -f rawvideo -pix_fmt rgb24 -s 128x128 -framerate 25 -i - -i speech.wav \
    -map 0:v -map 1:a "${X264[@]}" -r 25 -c:a aac -b:a 64k -ar 44100 -ac 1 -t 3 \
    "${FFOUT[@]}" -movflags +faststart talk-video.mp4

echo "== audio from other encoders"
"$HERE/make-encoder-fixtures.sh"

echo "== a two-person conversation"
"$HERE/make-conversation-fixtures.sh"

echo "== verify"
for n in 1 2 3 4 5 6 7 8; do
  psnr=$(convert "orient-$n.jpg" -auto-orient png:- | compare -metric PSNR - orient-upright.png null: 2>&1 || true)
  echo "orient-$n.jpg stored $(identify -format %wx%h "orient-$n.jpg") tag $(exiftool -n -s3 -Orientation "orient-$n.jpg") auto-orient PSNR vs upright: $psnr dB"
done
psnr=$(convert portrait-exif6.jpg -auto-orient png:- | compare -metric PSNR - "$TMP/exif6-upright.png" null: 2>&1 || true)
echo "portrait-exif6.jpg stored $(identify -format %wx%h portrait-exif6.jpg) auto-orient PSNR: $psnr dB"
for f in clip-a.mp4 clip-b.mp4 clip-c.mp4 clip-odd-size.mp4 clip-short.mp4 clip-30fps.mp4 talk-video.mp4; do
  v=$(ffprobe -v error -count_frames -select_streams v:0 \
      -show_entries stream=nb_read_frames,width,height,r_frame_rate -of csv=p=0 "$f")
  x=$(ffprobe -v error -select_streams v:0 -show_streams -show_data "$f" |
      sed -n '/^extradata=/,/^extradata_size=/p' | md5sum | cut -c1-12)
  echo "$f w,h,fps,frames=$v extradata-md5=$x"
done
echo "speech.mp3 decoded samples (mono s16): $(( $(ffmpeg -v error -i speech.mp3 -f s16le -ac 1 - | wc -c) / 2 ))"
total=$(du -sb "$HERE" | cut -f1)
echo "== done: $total bytes in $HERE"
(( total < 3100000 )) || { echo "Fixtures/ is $total bytes, over the 3.1 MB budget" >&2; exit 1; }
big=$(find "$HERE" -type f -size +1000000c)
[[ -z "$big" ]] || { echo "files over 1 MB: $big" >&2; exit 1; }
