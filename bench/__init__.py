"""Same-run ratio benchmarks of the mapper's hot paths: ``python -m bench [--quick]``.

Every figure is a ratio against a baseline measured in the same run (machines differ),
with the raw seconds; every case has a correctness check (a failure fails the run) and a
target (reported as met or not met). See the Benchmarks section of README.md.
"""
