"""The documentation cannot drift from the product: generated reference pages are current, every page is
in the site's navigation, and every `bash` block of the guides runs as written (slow)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlkit.reference import PAGES, stale
from tests.conftest import ROOT, SHARED_DATA

DOCS = ROOT / "docs"
PAGES_DIR = DOCS / "pages"
#: pages whose ```bash blocks are run; ```console blocks (installs, servers that never stop) are not
GUIDES = sorted(p.relative_to(PAGES_DIR).as_posix() for p in [PAGES_DIR / "getting-started.md",
                                                            *(PAGES_DIR / "tutorials").glob("*.md")])  # fmt: skip


def test_reference_pages_match_the_code() -> None:
    """A schema field, architecture or CLI option added without `python -m dlkit.reference` fails here."""
    assert stale(PAGES_DIR / "reference") == [], "regenerate with: python -m dlkit.reference"


def test_reference_generation_sees_a_new_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import Field

    from dlkit.recipe.architectures import MLPParams

    for name, page in PAGES.items():
        (tmp_path / name).write_text(page())
    assert stale(tmp_path) == []
    extended = MLPParams.model_fields | {"residual": Field(False, description="Skip connections.")}
    monkeypatch.setattr(MLPParams, "model_fields", extended)
    assert stale(tmp_path) == ["architectures.md"]


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    return []


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((DOCS / "mkdocs.yml").read_text())
    listed = set(_nav_pages(config["nav"]))
    present = {p.relative_to(PAGES_DIR).as_posix() for p in PAGES_DIR.rglob("*.md")}
    assert listed == present


def bash_blocks(page: Path) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.S | re.M)


@pytest.mark.slow
@pytest.mark.parametrize("page", GUIDES)
def test_guide_commands_run_as_written(page: str, tmp_path: Path) -> None:
    """The page's bash blocks, in order, in one shell in an empty folder (the SMS and sunspot files beside)."""
    blocks = bash_blocks(PAGES_DIR / page)
    assert blocks, f"{page} has no commands"
    for name in ("sms-spam.tsv", "monthly-sunspots.csv"):
        if (SHARED_DATA / name).is_file():
            shutil.copy(SHARED_DATA / name, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = "set -euo pipefail\n" + "\n".join(blocks)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{page}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    # every file the page names (`confusion_matrix.png`, `-o report.html`) exists after its commands ran:
    # written to the folder or among the runs' artifacts in the store beside it
    made = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    missing = sorted(named_files(PAGES_DIR / page) - made)
    assert not missing, f"{page} names files its commands did not make: {missing}"


#: a file named in backticks, or given to an option that writes one
NAMED = re.compile(r"`(?:\./)?([\w.-]+\.(?:png|csv|json|html|yaml|ckpt|journal|db))`")
WRITTEN = re.compile(r"(?:-o|--output|--export|--storage)[ =]([\w./-]+\.\w+)")


def named_files(page: Path) -> set[str]:
    text = page.read_text()
    names = set(NAMED.findall(text))
    for block in bash_blocks(page):
        names |= {Path(p).name for p in WRITTEN.findall(block) if "://" not in p}
    return names


def test_named_files_are_found_in_the_guides() -> None:
    """The check above sees both kinds of names (it cannot pass by finding none)."""
    assert {"confusion_matrix.png", "learning_curves.png"} <= named_files(
        PAGES_DIR / "tutorials" / "image-classification.md"
    )
    assert {"report.html", "study.html", "digits.html"} <= named_files(PAGES_DIR / "tutorials" / "comparing-runs.md")


def test_reference_types_read_as_a_user_writes_them() -> None:
    """Types as a recipe writes values (`int (> 0)`, `list[int]`, `one of: a, b`), never dlkit's class names."""
    text = (PAGES_DIR / "reference" / "recipe.md").read_text()
    text += (PAGES_DIR / "reference" / "architectures.md").read_text()
    types = [row.split(" | ")[1] for row in text.splitlines() if row.startswith("| `")]
    assert len(types) > 100
    internal = [t for t in types if re.search(r"\b[A-Z][a-z]+[A-Z]\w*|\b(Optim|Trainer|Tracking|Scheduler)\b", t)]
    assert internal == []
    assert "| `optim.name` | one of: sgd, adam, adamw, rmsprop |" in text
    assert "| `optim.betas` | list[float] of 2 |" in text
    assert re.search(r"\| `task` \| mapping; kind: one of classification, regression", text)
    assert not any('"' in t for t in types if t.startswith("one of"))
    css = (PAGES_DIR / "stylesheets" / "extra.css").read_text()
    assert "white-space: nowrap" in css and "stylesheets/extra.css" in (DOCS / "mkdocs.yml").read_text()
