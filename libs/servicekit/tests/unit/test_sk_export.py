"""The shared CSV export: cells never run as formulas; CSV chosen by the query or Accept."""

from __future__ import annotations

from servicekit.export import Format, csv_response, wants_csv


def test_csv_cells_never_run_as_formulas() -> None:
    answer = csv_response("x.csv", ["name", "n"], [["=HYPERLINK(1)", -3], ["读书会", None]])
    assert bytes(answer.body).decode() == "\ufeffname,n\r\n'=HYPERLINK(1),-3\r\n读书会,\r\n"
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"


def test_the_query_decides_before_the_accept_header() -> None:
    assert wants_csv(Format.CSV, None)
    assert not wants_csv(Format.JSON, "text/csv")
    assert wants_csv(None, "text/csv")
    assert wants_csv(None, "application/json;q=0.5, TEXT/CSV; q=0.9")
    assert not wants_csv(None, "*/*")
    assert not wants_csv(None, None)
    assert not wants_csv(None, "text/csvx")
