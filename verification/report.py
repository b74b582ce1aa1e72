"""What a section of a verification job produced: a title, a markdown summary and its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SectionReport"]


@dataclass
class SectionReport:
    """A section's title, its markdown summary (tables, verdicts, image links), its files and
    whether every claim of the section holds."""

    title: str
    markdown: str
    paths: list[Path]
    passed: bool = True
