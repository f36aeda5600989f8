"""Benchmark commands and the fake model servers they (and the tests) run; not part of the installed package."""
