"""A report as a list of blocks (headings, paragraphs, tables, figures, preformatted text), rendered once as
Markdown (figures as files next to it) and once as one self-contained HTML page (figures as data: URIs)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str
    width_px: int | None = None  # at most this wide on the page (cell pictures side by side)


@dataclass(frozen=True)
class Pre:
    text: str


Block = Heading | Para | Table | Figure | Pre


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


# ------------------------------------------------------------------------------------------ Markdown


def _md_cell(text: str) -> str:
    # arch strings hold '|', which would end a Markdown table cell
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    lines = [f"*{t.caption}*", ""] if t.caption else []
    lines.append("| " + " | ".join(_md_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---" for _ in t.headers) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return lines


def to_markdown(doc: Document, base: Path) -> str:
    """The document as Markdown; figure paths relative to ``base`` (the folder of report.md)."""
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Table):
            out += [*_md_table(b), ""]
        elif isinstance(b, Figure):
            rel = b.path.relative_to(base).as_posix()
            out += [f"![{b.caption}]({rel})", "", f"*{b.caption}*", ""]
        else:
            out += ["```", b.text, "```", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto; max-width: 1150px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem;
       margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f3f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: .6rem; overflow-x: auto; font-size: .8rem; }
figure { margin: .5rem 0 1rem; display: inline-block; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .8rem; color: #555; }
.note { color: #666; font-size: .85rem; }
"""


def _data_uri(path: Path) -> str:
    kind = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _is_number(text: str) -> bool:
    head = text.split(" ", 1)[0].replace(",", "").lstrip("#-+")
    return head.replace(".", "", 1).replace("e", "", 1).isdigit()


_NUM = ' class="num"'


def _html_table(t: Table) -> list[str]:
    out = ["<table>"]
    if t.caption:
        out.append(f"<caption>{html.escape(t.caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in t.headers) + "</tr>")
    for row in t.rows:
        cells = (f"<td{_NUM if _is_number(c) else ''}>{html.escape(c)}</td>" for c in row)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return out


def to_html(doc: Document, refresh_s: float | None = None) -> str:
    """The document as one HTML page with every figure embedded; ``refresh_s``: the browser reloads it
    that often (``nas report --watch``)."""
    head = ['<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">']
    if refresh_s is not None:
        head.append(f'<meta http-equiv="refresh" content="{max(1, round(refresh_s))}">')
    head += [f"<title>{html.escape(doc.title)}</title>", f"<style>{_CSS}</style>"]
    body = [f"<h1>{html.escape(doc.title)}</h1>"]
    for b in doc.blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Table):
            body += _html_table(b)
        elif isinstance(b, Figure):
            cap = html.escape(b.caption)
            style = f' style="max-width: {b.width_px}px"' if b.width_px else ""
            img = f'<img src="{_data_uri(b.path)}" alt="{cap}">'
            body.append(f"<figure{style}>{img}<figcaption>{cap}</figcaption></figure>")
        else:
            body.append(f"<pre>{html.escape(b.text)}</pre>")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            *head,
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
        ]
    )


def figures(doc: Document) -> Sequence[Figure]:
    return [b for b in doc.blocks if isinstance(b, Figure)]
