"""Benchmarks: `make bench` (or `python -m bench [name ...]`). Each prints its figures.

They run against a throw-away database created like the test database, on whatever
DATABASE_URL points at (SQLite file by default; PostgreSQL for the real numbers).
"""
