"""Benchmarks and the performance budget (issue #6): run with ``make bench``.

Each benchmark is a module with a ``run(ctx)`` function; ``python -m bench`` runs them all,
prints a table per benchmark and writes JSON under ``bench/results/``. See BENCHMARKS.md.
"""
