"""Writes the demo corpus's binary files (a PDF and a DOCX) from text kept here.

Run once by a developer (``python -m api.demo.build_demo``); the outputs are
committed so ``make run`` needs nothing but the repository.
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).parent / "docs"

QUICK_START = [
    [
        ("h", "Aurora X2 Quick Start and Specifications"),
        ("p", "This sheet covers the Aurora X2 home espresso machine, model AX2-EU, firmware 1.2."),
        ("h2", "Technical specifications"),
        ("p", "Power: 1450 W at 230 V. Boiler: single stainless steel boiler with PID control."),
        ("p", "Pump pressure: 15 bar maximum, 9 bar at the group head. Water tank: 1.8 litres."),
        ("p", "Weight: 7.4 kg. Dimensions: 26 cm wide, 33 cm deep, 31 cm high."),
        ("h2", "Energy saving"),
        ("p", "The machine switches to standby after 20 minutes without use. Standby draws 0.4 W."),
        ("p", "Change the standby delay by holding the power button for 5 seconds."),
    ],
    [
        ("h", "Safety"),
        ("p", "Never open the machine while it is plugged in. The boiler stays hot for 30 minutes."),
        ("p", "Keep children away from the steam wand: steam reaches 125 degrees Celsius."),
        ("h2", "Support"),
        ("p", "Support hours are Monday to Friday, 8:00 to 18:00 CET, by phone at +31 20 555 0199."),
        ("p", "Spare parts such as gaskets and shower screens ship within 2 working days."),
    ],
]

POLICY = [
    ("Title", "Aurora Coffee Company: Return and Refund Policy"),
    ("Heading 1", "Scope"),
    (
        "Normal",
        "This policy applies to every Aurora appliance bought directly from Aurora Coffee Company online or in our stores.",
    ),
    ("Heading 1", "Returns"),
    (
        "Normal",
        "You may return an unused appliance within 30 days of delivery for a full refund. Used appliances may be returned within 30 days if they are cleaned and descaled; a restocking fee of 15 percent applies.",
    ),
    ("Heading 2", "How to return"),
    ("List Number", "Request a return number from customer support."),
    ("List Number", "Pack the appliance in its original box with all accessories."),
    ("List Number", "Hand the parcel to the courier who collects it free of charge."),
    ("Heading 1", "Refunds"),
    (
        "Normal",
        "Refunds are paid to the original payment method within 14 days after the returned appliance arrives at our warehouse.",
    ),
]

REFUND_TABLE = [
    ["Situation", "Refund", "Fee"],
    ["Unused, within 30 days", "Full price", "None"],
    ["Used, cleaned, within 30 days", "Price minus fee", "15 percent"],
    ["Defective on arrival", "Full price or replacement", "None"],
    ["After 30 days", "Warranty repair only", "Not applicable"],
]


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[list[tuple[str, str]]], title: str) -> None:
    """A minimal, valid PDF 1.4 with Helvetica text, one content stream per page."""
    sizes = {"h": 18, "h2": 14, "p": 11}
    objects: list[bytes] = []
    page_ids = [5 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({_pdf_escape(title)}) /Producer (Lectern demo builder) >>".encode())
    for i, page in enumerate(pages):
        y = 770
        ops = []
        for kind, text in page:
            size = sizes[kind]
            y -= size + (14 if kind != "p" else 6)
            ops.append(f"BT /F1 {size} Tf 56 {y} Td ({_pdf_escape(text)}) Tj ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_ids[i] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Aurora Coffee Company: Return and Refund Policy"
    for style, text in POLICY:
        document.add_paragraph(text, style=style)
    document.add_heading("Refund overview", level=2)
    table = document.add_table(rows=0, cols=3)
    for row in REFUND_TABLE:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = value
    document.sections[0].footer.paragraphs[0].text = "Aurora Coffee Company - Policy RP-7, valid from 1 September 2026"
    document.save(str(path))


def main() -> None:
    write_pdf(DOCS / "aurora-x2-quick-start.pdf", QUICK_START, "Aurora X2 Quick Start")
    write_docx(DOCS / "return-policy.docx")
    print(f"wrote demo files to {DOCS}")


if __name__ == "__main__":
    main()
