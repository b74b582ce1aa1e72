"""A study's report as ``report.md`` (images linked) and ``report.html`` (images inline, base64).

A report is a list of blocks: a :class:`Heading`, a paragraph (a ``str``), a :class:`TableBlock`, an
:class:`Image` (a PNG file in the output folder) or a :class:`Code` listing. Both files are
rendered from the same blocks, so they say the same thing; the HTML file is self-contained.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

from mfpde.storage import atomic_path

__all__ = [
    "Heading",
    "TableBlock",
    "Image",
    "Code",
    "Block",
    "render_markdown",
    "render_html",
    "write_reports",
]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class TableBlock:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    """A PNG in the output folder (``path`` relative to it) with a caption."""

    path: str
    caption: str


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


Block = Heading | str | TableBlock | Image | Code


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(blocks: list[Block]) -> str:
    """The blocks as GitHub-flavoured markdown."""
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, TableBlock):
            lines = [
                "| " + " | ".join(_md_cell(c) for c in b.header) + " |",
                "|" + "---|" * len(b.header),
                *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows),
            ]
            out.append("\n".join(lines))
        elif isinstance(b, Image):
            out.append(f"![{b.caption}]({b.path})\n\nFigure: {b.caption}")
        elif isinstance(b, Code):
            out.append(f"```{b.language}\n{b.text.rstrip()}\n```")
        else:
            out.append(b)
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Escape HTML and turn markdown **bold** and `code` spans into tags."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse}td,th{border:1px solid #aaa;padding:.2em .6em}"
    "pre{background:#f4f4f4;padding:.6em;overflow-x:auto}img{max-width:100%}"
)


def render_html(blocks: list[Block], folder: Path, title: str) -> str:
    """The blocks as one self-contained HTML page; images read from ``folder`` and inlined."""
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    out.append(f"<style>{_STYLE}</style></head><body>")
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, TableBlock):
            head = "".join(f"<th>{_inline(c)}</th>" for c in b.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in b.rows
            )
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        elif isinstance(b, Image):
            data = base64.b64encode((folder / b.path).read_bytes()).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{_inline(b.caption)}</figcaption></figure>"
            )
        elif isinstance(b, Code):
            out.append(f"<pre><code>{html.escape(b.text.rstrip())}</code></pre>")
        else:
            out.append(f"<p>{_inline(b)}</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_reports(folder: Path, blocks: list[Block], title: str) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``folder`` (each atomically)."""
    paths = []
    for name, text in (
        ("report.md", render_markdown(blocks)),
        ("report.html", render_html(blocks, folder, title)),
    ):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(text)
        paths.append(folder / name)
    return paths
