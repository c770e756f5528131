"""Report files (CSV, XLSX, PDF) written from row iterators, never from a materialised list.

A ``Report`` has a title, a KPI ``summary`` (label, value, trend text), an optional ``trend``
series (a few dozen points: one per day or week) and ``sections``, each with its ``columns``
and an iterable of ``rows`` (mappings by column key, or sequences in column order). Rows are
pulled one at a time and written straight out, so a 50,000-row scope costs the memory of one
row plus the writer's buffer:

* ``write_csv(section, fileobj)``: one section, UTF-8 with a BOM (Excel opens it with the right
  accents), raw values (ISO dates, plain decimals).
* ``write_xlsx(report, fileobj)``: openpyxl in write-only mode (rows go to a temporary file as
  they come). A "Summary" sheet (bold header, KPI table, a line chart of the trend from a
  "Trend" sheet), then one sheet per section with a bold frozen header row, auto-filter,
  column widths and number formats by column kind.
* ``write_pdf(report, fileobj)``: reportlab's canvas, A4 landscape: title, summary table and
  the trend chart on page 1, then the sections as paged tables with the header repeated on
  every page and "Page n" footers. The canvas keeps the compressed pages until ``save()``:
  memory grows with the output size, not with a list of rows.

Column kinds: ``text``, ``int``, ``float`` (one decimal), ``hours`` (a duration in hours, one
decimal), ``percent`` (a ratio: 0.25 shows as 25.0 %), ``date``, ``datetime``.
"""
import codecs
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

XLSX_FORMATS = {"int": "#,##0", "float": "#,##0.0", "hours": "0.0", "percent": "0.0%",
                "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}
XLSX_SHEET_NAME_MAX = 31
PDF_ROW_HEIGHT = 14
PDF_FONT = "Helvetica"
PDF_FONT_BOLD = "Helvetica-Bold"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"
    width: int = 16  # characters (XLSX) / relative share of the page width (PDF)


@dataclass
class Section:
    title: str
    columns: list
    rows: object  # any iterable; consumed once


@dataclass
class Report:
    title: str
    subtitle: str = ""
    summary: list = field(default_factory=list)  # [(label, value, trend text)]
    trend: list = field(default_factory=list)  # [(label, value)]
    trend_label: str = "Trend"
    sections: list = field(default_factory=list)


def _cells(columns, row):
    if isinstance(row, Mapping):
        return [row.get(column.key) for column in columns]
    values = list(row)
    return values + [None] * (len(columns) - len(values))


def format_cell(value, kind):
    """How a value reads in the PDF (and anywhere text is wanted)."""
    if value is None or value is False:
        return ""
    if kind == "int":
        return f"{value:,.0f}"
    if kind in ("float", "hours"):
        return f"{value:,.1f}" + (" h" if kind == "hours" else "")
    if kind == "percent":
        return f"{100.0 * value:.1f} %"
    if kind == "datetime" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == "date" and isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _csv_value(value):
    if value is None or value is False:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


# ----------------------------------------------------------------------------------- CSV

def write_csv(section, fileobj):
    """Write one section as CSV to a binary file object; return the number of data rows."""
    text = io.TextIOWrapper(fileobj, encoding="utf-8", newline="", write_through=True)
    try:
        fileobj.write(codecs.BOM_UTF8)
        writer = csv.writer(text)
        writer.writerow([column.label for column in section.columns])
        count = 0
        for row in section.rows:
            writer.writerow([_csv_value(v) for v in _cells(section.columns, row)])
            count += 1
        text.flush()
    finally:
        text.detach()  # leave the caller's file open
    return count


# ---------------------------------------------------------------------------------- XLSX

def _sheet_name(title, used):
    base = "".join("_" if ch in '[]:*?/\\' else ch for ch in title)[:XLSX_SHEET_NAME_MAX] or "Sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        suffix = f" ({n})"
        name = base[:XLSX_SHEET_NAME_MAX - len(suffix)] + suffix
    used.add(name.lower())
    return name


def _place_cells(sheet):
    """Make ``sheet.append`` take prepared cells as they are (no value conversion attempt).

    Replaces the write-only sheet's ``_values_to_row`` (openpyxl 3.1) on this sheet only; returns
    False, leaving openpyxl as it is, where that method does not exist or cannot be replaced.
    """
    if not callable(getattr(sheet, "_values_to_row", None)):
        return False

    def place(cells, row_idx):
        for col_idx, cell in enumerate(cells, 1):
            if cell is not None:
                cell.column, cell.row = col_idx, row_idx
                yield cell

    try:
        sheet._values_to_row = place
    except AttributeError:
        return False
    return True


def write_xlsx(report, fileobj):
    """Write the report as XLSX (write-only, streamed); return ``{section title: rows}``."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.chart import LineChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    used = set()
    bold = Font(bold=True)
    header_fill = PatternFill("solid", start_color="DDE5F0")

    def header_cell(sheet, value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.font, cell.fill = bold, header_fill
        cell.alignment = Alignment(vertical="center")
        return cell

    summary = workbook.create_sheet(_sheet_name("Summary", used))
    for letter, width in (("A", 34), ("B", 16), ("C", 22)):
        summary.column_dimensions[letter].width = width
    title_cell = WriteOnlyCell(summary, value=report.title)
    title_cell.font = Font(bold=True, size=14)
    summary.append([title_cell])
    if report.subtitle:
        summary.append([report.subtitle])
    summary.append([])
    summary.append([header_cell(summary, "KPI"), header_cell(summary, "Value"), header_cell(summary, "Trend")])
    for label, value, trend in report.summary:
        summary.append([label, value, trend])

    if report.trend:
        trend_sheet = workbook.create_sheet(_sheet_name("Trend", used))
        trend_sheet.column_dimensions["A"].width = 14
        trend_sheet.append([header_cell(trend_sheet, "Period"), header_cell(trend_sheet, report.trend_label)])
        for label, value in report.trend:
            trend_sheet.append([label, value])
        chart = LineChart()
        chart.title = report.trend_label
        chart.height, chart.width = 7.5, 18
        chart.y_axis.title = report.trend_label
        last = len(report.trend) + 1
        chart.add_data(Reference(trend_sheet, min_col=2, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(trend_sheet, min_col=1, min_row=2, max_row=last))
        summary.add_chart(chart, "E2")

    counts = {}
    for section in report.sections:
        sheet = workbook.create_sheet(_sheet_name(section.title, used))
        for index, column in enumerate(section.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        sheet.append([header_cell(sheet, column.label) for column in section.columns])
        # One cell per column, refilled for every row (append() serialises the row at once, so
        # reusing them is safe), the formatted columns styled once. openpyxl's append() first
        # tries every cell it is given as a *value* and takes it as a cell only on the
        # ValueError that fails (formatting the message: costly, more so under Odoo's patched
        # str.format); _place_cells lets it take the prepared cells directly, which made XLSX
        # rows about twice as fast (tests/bench/bench_cockpit_reports.py).
        cells = [WriteOnlyCell(sheet) for _column in section.columns]
        for cell, column in zip(cells, section.columns):
            if column.kind in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[column.kind]
        direct = _place_cells(sheet)
        count = 0
        for row in section.rows:
            values = _cells(section.columns, row)
            if direct:
                for index, (cell, value) in enumerate(zip(cells, values)):
                    if value is None or value is False:
                        values[index] = None
                    else:
                        cell.value = value
                        values[index] = cell
            else:
                for index, (cell, value) in enumerate(zip(cells, values)):
                    if value is False:
                        values[index] = None
                    elif value is not None and cell.has_style:
                        cell.value = value
                        values[index] = cell
            sheet.append(values)
            count += 1
        sheet.auto_filter.ref = f"A1:{get_column_letter(max(1, len(section.columns)))}{count + 1}"
        counts[section.title] = count
    workbook.save(fileobj)
    return counts


# ----------------------------------------------------------------------------------- PDF

def _trend_drawing(report, width, height):
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, report.trend_label, fontName=PDF_FONT_BOLD, fontSize=10))
    chart = HorizontalLineChart()
    chart.x, chart.y = 30, 25
    chart.width, chart.height = width - 40, height - 50
    chart.data = [[float(value or 0) for _label, value in report.trend]]
    labels = [str(label) for label, _value in report.trend]
    step = max(1, len(labels) // 12)
    chart.categoryAxis.categoryNames = [label if i % step == 0 else "" for i, label in enumerate(labels)]
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.lines[0].strokeColor = colors.HexColor("#2f6fad")
    chart.lines[0].strokeWidth = 1.5
    drawing.add(chart)
    return drawing


def write_pdf(report, fileobj):
    """Write the report as a PDF; return ``{"pages": n, "rows": {section title: rows}}``."""
    from reportlab.graphics import renderPDF
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    page_width, page_height = landscape(A4)
    margin = 36
    pdf = canvas.Canvas(fileobj, pagesize=(page_width, page_height), pageCompression=1)
    pdf.setTitle(report.title)
    state = {"page": 1, "y": page_height - margin}

    def new_page():
        pdf.setFont(PDF_FONT, 8)
        pdf.drawRightString(page_width - margin, margin / 2, f"Page {state['page']}")
        pdf.showPage()
        state["page"] += 1
        state["y"] = page_height - margin

    def room(height):
        if state["y"] - height < margin:
            new_page()
            return False
        return True

    def line(text, font=PDF_FONT, size=9, x=margin, gap=PDF_ROW_HEIGHT):
        room(gap)
        pdf.setFont(font, size)
        pdf.drawString(x, state["y"] - size, text)
        state["y"] -= gap

    line(report.title, PDF_FONT_BOLD, 16, gap=24)
    if report.subtitle:
        line(report.subtitle, size=10, gap=18)
    if report.summary:
        for label, value, trend in report.summary:
            room(PDF_ROW_HEIGHT)
            pdf.setFont(PDF_FONT, 9)
            pdf.drawString(margin, state["y"] - 9, str(label))
            pdf.drawRightString(margin + 300, state["y"] - 9, str(value))
            pdf.drawString(margin + 320, state["y"] - 9, str(trend or ""))
            state["y"] -= PDF_ROW_HEIGHT
    if report.trend:
        chart_height = 190
        room(chart_height + 10)
        renderPDF.draw(_trend_drawing(report, page_width - 2 * margin, chart_height), pdf, margin,
                       state["y"] - chart_height)
        state["y"] -= chart_height + 10

    counts = {}
    usable = page_width - 2 * margin
    for section in report.sections:
        total = sum(column.width for column in section.columns) or 1
        xs, x = [], margin
        for column in section.columns:
            xs.append(x)
            x += usable * column.width / total
        limits = [max(3, int(usable * column.width / total / 4.6)) for column in section.columns]

        def header(columns=section.columns, xs=xs, limits=limits):
            pdf.setFont(PDF_FONT_BOLD, 8)
            for column, x0, limit in zip(columns, xs, limits):
                pdf.drawString(x0, state["y"] - 8, column.label[:limit])
            pdf.line(margin, state["y"] - 11, page_width - margin, state["y"] - 11)
            state["y"] -= PDF_ROW_HEIGHT

        room(3 * PDF_ROW_HEIGHT)
        line(section.title, PDF_FONT_BOLD, 11, gap=18)
        header()
        count = 0
        for row in section.rows:
            if not room(PDF_ROW_HEIGHT):
                line(f"{section.title} (continued)", PDF_FONT_BOLD, 9, gap=16)
                header()
            pdf.setFont(PDF_FONT, 8)
            for column, x0, limit, value in zip(section.columns, xs, limits, _cells(section.columns, row)):
                text = format_cell(value, column.kind)
                if len(text) > limit:
                    text = text[:limit - 1] + "…"
                pdf.drawString(x0, state["y"] - 8, text)
            state["y"] -= PDF_ROW_HEIGHT
            count += 1
        counts[section.title] = count
        state["y"] -= 10
    pdf.setFont(PDF_FONT, 8)
    pdf.drawRightString(page_width - margin, margin / 2, f"Page {state['page']}")
    pdf.showPage()
    pdf.save()
    return {"pages": state["page"], "rows": counts}
