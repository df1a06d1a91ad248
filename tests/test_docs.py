"""The documentation cannot drift from the code: docs/configuration.md is what the generator
prints, every GOODWILL_* variable the code reads is documented, and every link in the
documents points at something in the repository (or a public URL)."""

import inspect
import re
import typing
from pathlib import Path

import pytest
import typer.models

from app import cli
from app.core import config_docs
from app.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").rglob("*.md")]
)


def test_configuration_doc_is_what_the_generator_prints() -> None:
    assert CONFIGURATION.read_text(encoding="utf-8") == config_docs.render(), (
        "docs/configuration.md is stale: run `make docs` and commit it"
    )


def test_every_setting_is_documented_with_its_default() -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} needs Field(description=...)"
        row = next(line for line in text.splitlines() if f"`GOODWILL_{name.upper()}`" in line)
        assert config_docs._default(field) in row


def _sources() -> list[Path]:
    files = [*(ROOT / "app").rglob("*.py"), *(ROOT / "docker").rglob("*")]
    return [*files, ROOT / "Dockerfile", ROOT / "Makefile"]


def test_every_goodwill_variable_the_code_reads_is_documented() -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    names = set()
    for path in _sources():
        if path.is_file():
            names |= set(re.findall(r"GOODWILL_[A-Z][A-Z_]*", path.read_text(encoding="utf-8")))
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_command_line_variables_are_documented_with_their_defaults() -> None:
    rows = {
        match.group(1): line
        for line in CONFIGURATION.read_text(encoding="utf-8").splitlines()
        if (match := re.match(r"\| `(GOODWILL_[A-Z_]+)` \|", line))
    }
    seen = 0
    for _, function in inspect.getmembers(cli, inspect.isfunction):
        if function.__module__ != cli.__name__:
            continue
        hints = typing.get_type_hints(function, include_extras=True)
        for name, parameter in inspect.signature(function).parameters.items():
            for info in getattr(hints.get(name), "__metadata__", ()):
                if isinstance(info, typer.models.OptionInfo) and isinstance(info.envvar, str):
                    default = parameter.default
                    shown = "unset" if default is None else f"`{default}`"
                    assert shown in rows[info.envvar], (info.envvar, shown)
                    seen += 1
    assert seen >= 3  # serve's host, port and workers at least


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors: set[str] = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in anchors:
            number += 1
            anchor = f"{slug}-{number}"
        anchors.add(anchor)
    return anchors


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_in_the_repository_and_resolve(document: Path) -> None:
    text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in _LINK.findall(text):
        if target.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            continue
        assert "://" not in target and not target.startswith("/"), (document, target)
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        assert resolved.is_relative_to(ROOT), f"{document}: {target} leaves the repository"
        assert resolved.exists(), f"{document}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{document}: no heading for #{anchor}"
