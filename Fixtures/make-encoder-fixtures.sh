#!/usr/bin/env bash
# Audio made by the encoders users actually have (LAME, opusenc, oggenc, flac, sox) and the
# odd-but-valid files they write. Called by make-fixtures.sh; runnable alone after it.
#
# Needs: lame, opus-tools (opusenc), vorbis-tools (oggenc), flac, sox, ffmpeg, python3.
# Input: speech.wav (made by make-fixtures.sh). Every file is a short excerpt, to keep
# Fixtures/ small.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for tool in lame opusenc oggenc flac sox ffmpeg python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export SOURCE_DATE_EPOCH=0

# The first sentence and a little of the pause after it (2.5 s, 22050 Hz mono).
sox speech.wav "$TMP/excerpt.wav" trim 0 2.5

# LAME at 8 kHz writes MPEG-2.5, which MP4 cannot carry as MP3 (below 16 kHz).
lame --quiet --noreplaygain -m m --resample 8 -b 16 "$TMP/excerpt.wav" enc-lame-8k.mp3
# VBR without a Xing/Info header (-t): the container's duration is only an estimate.
lame --quiet --noreplaygain -m m -V 6 -t "$TMP/excerpt.wav" enc-lame-vbr-noxing.mp3
# Opus from opusenc, and a copy whose OpusHead asks to skip 0.5 s (24000 samples) instead of
# the usual 312: complete, but its header duration differs from what decodes.
opusenc --quiet --bitrate 24 "$TMP/excerpt.wav" enc-opusenc.opus
python3 - enc-opusenc.opus enc-opus-preskip.opus <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
def crc(page):
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if r & 0x80000000 else (r << 1) & 0xFFFFFFFF
        table.append(r)
    c = 0
    for b in page:
        c = ((c << 8) & 0xFFFFFFFF) ^ table[((c >> 24) & 0xFF) ^ b]
    return c
# The first page holds OpusHead: pre-skip is the u16 at offset 10 of the packet.
assert data[:4] == b"OggS"
segments = data[26]
header = 27 + segments
size = header + sum(data[27:27 + segments])
assert data[header:header + 8] == b"OpusHead"
struct.pack_into("<H", data, header + 10, 24000)
struct.pack_into("<I", data, 22, 0)
struct.pack_into("<I", data, 22, crc(bytes(data[:size])))
open(sys.argv[2], "wb").write(data)
PY
oggenc --quiet -q 0 "$TMP/excerpt.wav" -o enc-oggenc.ogg
# FLAC at 96 kHz (1 s), from the flac tool.
sox "$TMP/excerpt.wav" -r 96000 "$TMP/96k.wav" trim 0 1
flac --silent --best -o enc-flac-96k.flac "$TMP/96k.wav"
# sox's WAVs: 32-bit float, and 24-bit (which sox writes as WAVE_FORMAT_EXTENSIBLE), 8 kHz.
sox "$TMP/excerpt.wav" -r 8000 -e floating-point -b 32 enc-sox-float.wav
sox "$TMP/excerpt.wav" -r 8000 -b 24 enc-sox-24bit.wav
# A WAV written to a pipe: RIFF and data sizes are 0xFFFFFFFF, the data runs to the end.
ffmpeg -nostdin -v error -i "$TMP/excerpt.wav" -ar 8000 -fflags +bitexact -f wav pipe:1 | cat > enc-piped.wav
for f in enc-*; do echo "$f: $(stat -c %s "$f") bytes"; done
