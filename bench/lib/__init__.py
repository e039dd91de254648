"""bench/lib: what every figure of bench/run shares.

paths      where inputs, work files and stored results live
measure    running commands: must-succeed runs, GNU time measurements, alternation, medians
inputs     the generated inputs (espeak-ng speech, clips made with the ffmpeg CLI, a 24 MP JPEG)
machine    the machine a figure ran on
context    what the driver hands a figure's run(): options, builds, inputs, a work directory
figures    finding the figure modules under bench/figures and choosing which to run
results    each figure's last result, stored as JSON
report     BENCHMARKS.md, written whole from the stored results
"""
