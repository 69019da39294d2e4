# Named targets, one per layer; included last, when every type has registered its targets.
# Each rules/<type>.smk registers its files: TARGETS[dtype] (bronze), SILVER_TARGETS[dtype] (silver),
# GOLD_TARGETS[name] (gold outputs); a type's files count only when the type is enabled.


def bronze_targets():
    return [f for dtype, files in TARGETS.items() if enabled(dtype) for f in files]


def silver_targets():
    return [f for dtype, files in SILVER_TARGETS.items() if enabled(dtype) for f in files]


def gold_targets():
    return [f for dtype, files in GOLD_TARGETS.items() if enabled(dtype) for f in files]


rule bronze:
    input:
        bronze_targets(),


rule silver:
    input:
        silver_targets(),


rule gold:
    input:
        gold_targets(),


# One target per data type, `ingest_<type>`: its bronze partitions (what `quantmini ingest --type` builds).
for _dtype in sorted(TARGETS):

    rule:
        name:
            f"ingest_{_dtype}"
        input:
            TARGETS[_dtype] if enabled(_dtype) else [],
