"""Bronze validation: each bad row is quarantined with its reason, good rows pass, counts add up."""

from __future__ import annotations

import datetime as dt

import polars as pl
from quantmini.datatypes.stocks_daily.schema import validate_partition
from quantmini.validation import validate_rows

D1, D2 = dt.date(2024, 7, 2), dt.date(2024, 7, 3)
HOLIDAY = dt.date(2024, 7, 4)


def bar(ticker, day, o=10.0, h=11.0, l=9.0, c=10.5, v=1000.0, vw=10.2, n=50, expected=None):
    return {"ticker": ticker, "date": day, "open": o, "high": h, "low": l, "close": c, "volume": v,
            "vwap": vw, "transactions": n, "_expected_session": expected or day}


def frame(rows):
    return pl.DataFrame(rows, schema={
        "ticker": pl.Utf8, "date": pl.Date, "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
        "close": pl.Float64, "volume": pl.Float64, "vwap": pl.Float64, "transactions": pl.Int64,
        "_expected_session": pl.Date})


def test_quarantine_reasons_hand_worked():
    rows = [
        bar("GOOD", D1), bar("GOOD", D2),
        bar("OPENHI", D1, o=12.0),                       # open above high
        bar("CLOSELO", D1, c=8.0),                       # close below low
        bar("NEGVOL", D1, v=-1.0),                       # negative volume
        bar("DUP", D1), bar("DUP", D1),                  # exact duplicate: collapsed, counted, kept once
        bar("CONF", D1, c=10.0), bar("CONF", D1, c=10.1),  # conflicting duplicate: both quarantined
        bar("WRONGDAY", D1, expected=D2),                # stamped on another day than requested
        bar("HOL", HOLIDAY, expected=D2),                # a bar on a holiday
        bar("GOOD", D1, c=10.9, expected=D2),            # a misdated copy never makes the real bar a duplicate
    ]
    clean, quarantine, report = validate_partition(frame(rows), [D1, D2])
    assert sorted(set(clean["ticker"])) == ["DUP", "GOOD"]
    assert clean.height == 3 and clean.filter(pl.col("ticker") == "DUP").height == 1
    reasons = dict(zip(quarantine["ticker"] + "@" + quarantine["close"].cast(pl.Utf8), quarantine["reason"]))
    assert reasons["OPENHI@10.5"] == "low<=open<=high"
    assert reasons["CLOSELO@8.0"] == "low<=close<=high"
    assert reasons["NEGVOL@10.5"] == "volume:greater_than_or_equal_to(0)"
    assert reasons["CONF@10.0"] == reasons["CONF@10.1"] == "unique(ticker,date)"
    assert reasons["WRONGDAY@10.5"] == "date is not the session requested"
    assert reasons["HOL@10.5"] == "date is not an XNYS session"
    assert reasons["GOOD@10.9"] == "date is not the session requested"
    assert report["rows_in"] == len(rows) == report["rows_valid"] + report["rows_quarantined"] + report["exact_duplicates_collapsed"]
    assert report["exact_duplicates_collapsed"] == 1
    assert report["quarantined_by_reason"]["unique(ticker,date)"] == 2
    assert report["sessions_without_bars"] == [] and report["ok"]
    assert "_expected_session" not in clean.columns
    assert clean.select(["ticker", "date"]).rows() == sorted(clean.select(["ticker", "date"]).rows())


def test_missing_session_is_reported_not_ok():
    clean, quarantine, report = validate_partition(frame([bar("A", D1)]), [D1, D2])
    assert report["sessions_without_bars"] == ["2024-07-03"] and not report["ok"]
    assert quarantine.height == 0 and clean.height == 1


def test_a_shared_check_keeps_its_name_in_every_model_whichever_schema_is_built_first():
    """pandera pops `name=` from an inherited check when the first subclass builds its schema; the
    factories name the check function instead, so quarantine reasons never depend on build order."""
    import pandera.polars as pa
    from quantmini.validation import BronzeModel, all_parsed, unique

    class Parsed(BronzeModel):
        parsed = all_parsed("dates parse")

    class A(Parsed):
        x: int = pa.Field()
        key = unique("x")

    class B(Parsed):
        y: int = pa.Field()

    for model in (B, A, Parsed, B):
        model.to_schema()
    assert [c.name for c in A.to_schema().checks] == ["unique(x)", "dates parse"]
    assert [c.name for c in B.to_schema().checks] == ["dates parse"]
    rows = pl.DataFrame({"x": [1, 1, 2], "_unparsed": [None, "", "date"]})
    _, quarantine, _ = validate_rows(rows, A, sort_by=["x"])
    assert quarantine["reason"].to_list() == ["unique(x)", "unique(x)", "dates parse"]
