"""One package per data type, each with the same parts (as Qlib's scripts/data_collector/<source>/ has):

    landing   requests and immutable landing files         parse    landing bodies -> typed frames
    schema    the pandera bronze model(s)                   bronze   landing -> validated month partitions
    silver    point-in-time derived tables (where any)      gold     the Qlib publication (where any)

A type whose landing, parsing and bronze still live in one module has it as `ingest.py`. The plumbing they
share lives once, beside this package: landing_documents (landing I/O and manifests), bronze (reading
landing files back), validation (the bronze model base and checks), atomic, parquet_io, calendar, client.
"""
