# Named targets, one per layer; included last, when every type has registered its targets.
# Each rules/<type>.smk registers its files: TARGETS[dtype] (bronze), SILVER_TARGETS[dtype] (silver),
# GOLD_TARGETS[name] (gold outputs); a type's files count only when the type is enabled.


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
