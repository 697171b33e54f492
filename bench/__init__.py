"""Benchmarks that print figures (not timed tests): `python -m bench`. See bench/__main__.py."""
