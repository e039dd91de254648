"""bench/figures: one module per figure of bench/run (see bench/lib/figures.py for what a module has)."""
