"""Report files written from row iterators and parsed back (engine/reports.py)."""
import csv
import io
import zipfile
from datetime import date, datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import reports
from maildesk_mail_client_cockpit.engine.reports import Column, Report, Section

openpyxl = pytest.importorskip("openpyxl")

COLUMNS = [
    Column("thread", "Thread", "text", 40),
    Column("mailbox", "Mailbox", "text", 20),
    Column("waiting", "Waiting", "hours", 10),
    Column("messages", "Messages", "int", 10),
    Column("sla", "SLA met", "percent", 10),
    Column("received", "Received", "datetime", 18),
]
START = datetime(2026, 3, 2, 9, 0)


def rows(n):
    """A one-shot generator: a writer that needs a list would see it exhausted."""
    for i in range(n):
        yield {"thread": f"Order {i} – délai", "mailbox": f"box{i % 3}", "waiting": i / 10, "messages": i,
               "sla": (i % 10) / 10, "received": START + timedelta(minutes=i)}


def report(n=30, trend_days=14):
    return Report(
        title="Support weekly report", subtitle="Team Support, 2026-02-23 to 2026-03-01",
        summary=[("Incoming", 1234, "+23.4 %"), ("Overdue", 12, "-2"), ("SLA attainment", "91.4 %", "")],
        trend=[((date(2026, 2, 16) + timedelta(days=d)).isoformat(), 40 + d) for d in range(trend_days)],
        trend_label="Incoming per day",
        sections=[Section("Oldest waiting threads", COLUMNS, rows(n)),
                  Section("Per mailbox", [Column("mailbox", "Mailbox"), Column("count", "Threads", "int")],
                          iter([("box0", 10), ("box1", 11), ("box2", 9)]))])


def test_csv_round_trip_with_bom_and_raw_values():
    buffer = io.BytesIO()
    section = Section("Oldest", COLUMNS, rows(3))
    assert reports.write_csv(section, buffer) == 3
    data = buffer.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed[0] == ["Thread", "Mailbox", "Waiting", "Messages", "SLA met", "Received"]
    assert parsed[2] == ["Order 1 – délai", "box1", "0.1", "1", "0.1", "2026-03-02 09:01:00"]
    assert len(parsed) == 4 and not buffer.closed


def test_csv_accepts_sequences_and_short_rows():
    buffer = io.BytesIO()
    reports.write_csv(Section("x", [Column("a", "A"), Column("b", "B")], [("1",), ("2", None)]), buffer)
    assert buffer.getvalue().decode("utf-8-sig").splitlines() == ["A,B", "1,", "2,"]


def test_xlsx_parsed_back_with_formatting_and_chart():
    buffer = io.BytesIO()
    counts = reports.write_xlsx(report(), buffer)
    assert counts == {"Oldest waiting threads": 30, "Per mailbox": 3}
    workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    assert workbook.sheetnames == ["Summary", "Trend", "Oldest waiting threads", "Per mailbox"]
    summary = workbook["Summary"]
    assert summary["A1"].value == "Support weekly report" and summary["A1"].font.bold
    assert [c.value for c in summary[5]][:3] == ["Incoming", 1234, "+23.4 %"]
    assert len(summary._charts) == 1
    sheet = workbook["Oldest waiting threads"]
    assert [c.value for c in sheet[1]] == [c.label for c in COLUMNS] and sheet["A1"].font.bold
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "F31".join(["A1:", ""])
    assert sheet.max_row == 31 and sheet["D31"].value == 29
    assert sheet["C2"].number_format == "0.0" and sheet["E2"].number_format == "0.0%"
    assert sheet["F3"].value == START + timedelta(minutes=1)
    assert sheet.column_dimensions["A"].width == 40
    assert workbook["Trend"].max_row == 15
    assert "xl/charts/chart1.xml" in zipfile.ZipFile(io.BytesIO(buffer.getvalue())).namelist()


def test_xlsx_sheet_names_are_cleaned_and_unique():
    long = "Per mailbox / person: the very long breakdown"
    sections = [Section(long, [Column("a", "A")], [(1,)]), Section(long, [Column("a", "A")], [(2,)])]
    buffer = io.BytesIO()
    reports.write_xlsx(Report(title="t", sections=sections), buffer)
    names = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).sheetnames
    assert names[1] == "Per mailbox _ person_ the very " and names[2].endswith(" (2)")
    assert all(len(name) <= 31 for name in names)


def pdf_reader(data):
    pypdf = pytest.importorskip("PyPDF2")  # Odoo 17 ships PyPDF2
    return pypdf.PdfReader(io.BytesIO(data))


def test_pdf_has_the_expected_pages_and_text():
    buffer = io.BytesIO()
    result = reports.write_pdf(report(n=100), buffer)
    reader = pdf_reader(buffer.getvalue())
    assert len(reader.pages) == result["pages"] >= 3
    assert result["rows"] == {"Oldest waiting threads": 100, "Per mailbox": 3}
    first = reader.pages[0].extract_text()
    assert "Support weekly report" in first and "Incoming" in first and "Incoming per day" in first
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Order 99" in text and "9.9 h" in text and "90.0 %" in text and "2026-03-02 10:39" in text
    assert "Oldest waiting threads (continued)" in text and f"Page {result['pages']}" in text


def test_pdf_without_trend_or_rows_is_one_page():
    buffer = io.BytesIO()
    result = reports.write_pdf(Report(title="Empty", sections=[Section("None", COLUMNS, iter(()))]), buffer)
    assert result == {"pages": 1, "rows": {"None": 0}}
    assert len(pdf_reader(buffer.getvalue()).pages) == 1


@pytest.mark.parametrize("value, kind, text", [
    (1234, "int", "1,234"), (3.47, "hours", "3.5 h"), (0.914, "percent", "91.4 %"), (None, "int", ""),
    (date(2026, 3, 2), "date", "2026-03-02"), (START, "datetime", "2026-03-02 09:00"), ("x", "text", "x"),
])
def test_format_cell(value, kind, text):
    assert reports.format_cell(value, kind) == text


def test_xlsx_empty_cells_do_not_inherit_the_previous_row():
    """The writer refills one cell per column: a None after a value must stay empty."""
    buffer = io.BytesIO()
    columns = [Column("n", "N", "int"), Column("t", "T")]
    reports.write_xlsx(Report(title="t", sections=[Section("s", columns, iter([(1, "a"), (None, False), (2, "b")]))]),
                       buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["s"]
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [[1, "a"], [None, None], [2, "b"]]
    assert sheet["A4"].number_format == "#,##0"
