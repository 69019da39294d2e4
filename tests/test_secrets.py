"""Secret hygiene: the API key of a real build never reaches a file or the output.

The session's reference build (conftest.reference_lake) ran against a simulator that requires a marker
key, with the key in MASSIVE_API_KEY. Every file under its workdir -- the lake, quarantine, reports,
logs, benchmarks, `.snakemake/` (Snakemake's metadata, locks, logs) -- and the captured stdout/stderr
are scanned for the marker, raw and in the forms it would take in a URL or a header dump.
"""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus


def forms(key: str) -> list[bytes]:
    raw = key.encode()
    return [raw, quote(key).encode(), quote_plus(key).encode(), base64.b64encode(raw),
            f"Bearer {key}".encode(), raw.hex().encode()]


def test_the_marker_key_was_really_used(reference_lake):
    statuses = {r["status"] for r in reference_lake.requests}
    assert reference_lake.requests and 401 not in statuses, "the simulator did not see the key: nothing proven"
    assert statuses == {200}


def test_no_file_and_no_output_holds_the_key(reference_lake):
    needles = forms(reference_lake.key)
    files = [p for p in reference_lake.work.rglob("*") if p.is_file()]
    scanned = {p.relative_to(reference_lake.work).parts[0] for p in files}
    assert {"lake", ".snakemake"} <= scanned
    assert any("logs" in p.parts for p in files) and any("benchmarks" in p.parts for p in files)
    assert any("reports" in p.parts for p in files)
    leaks = [str(p) for p in files for n in needles if n in p.read_bytes()]
    assert not leaks, f"the API key leaked into: {leaks}"
    output = reference_lake.output.encode()
    assert output and not [n for n in needles if n in output], "the API key leaked into the run's output"
    # the simulator's own request log masks it too (the query never carries it: Bearer header only)
    assert not [n for n in needles if n in reference_lake.sim_log.read_bytes()]
