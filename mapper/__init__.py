"""Neighbourhood needs and asset mapper for English (and Welsh) local areas.

Data flows one way: files -> sources -> store -> analysis -> maps -> web / cli.
"""

__version__ = "0.1.0"
