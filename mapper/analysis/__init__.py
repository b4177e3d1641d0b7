"""Pure analysis functions: no file or database I/O, no Flask, no printing.

Inputs are frames in EPSG:27700 with the canonical columns of the store (``ward_code``,
``lsoa_code``, ...); results are Series or DataFrames indexed by ``ward_code`` (or
``lsoa_code``) whose names are the columns they become. Imports only ``mapper.geo``,
``mapper.errors``, its own modules (checks shared between them are in ``_tables``) and
libraries.
"""
