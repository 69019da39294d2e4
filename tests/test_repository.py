"""The repository stands alone: no tracked file refers to a path outside it.

A clone is all a user has. A test, doc or script that reads a folder beside the checkout (or an absolute
path of one of our machines) passes on our machines and fails on theirs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import REPO

# Absolute paths of developer or CI machines, and folders that only exist beside our checkouts.
FORBIDDEN = re.compile(r"(?<![\w.])(/work/|/home/\w|/Users/\w|/root/|\.\./shared\b|QUANTMINI_SHARED)"
                       r"|\.parent\s*/\s*[\"']shared[\"']")
# A relative path that climbs: resolved from the file's folder, it must stay inside the repository.
CLIMB = re.compile(r"(?<![.\w])(?:\.\./)+[\w.\-/]*")
SKIP_SUFFIXES = {".lock", ".png", ".parquet", ".gz", ".bin"}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files = [REPO / n for n in names.decode().split("\0") if n]
    return [f for f in files if f.suffix not in SKIP_SUFFIXES and f.is_file()]


def outside_references(path: Path, text: str) -> list[str]:
    found = [f"{m.group(0)!r}" for m in FORBIDDEN.finditer(text)]
    for m in CLIMB.finditer(text):
        target = (path.parent / m.group(0)).resolve()
        if not target.is_relative_to(REPO.resolve()):
            found.append(f"{m.group(0)!r} (resolves to {target})")
    return found


def test_no_tracked_file_refers_to_a_path_outside_the_repository():
    problems = []
    for f in tracked_text_files():
        try:
            text = f.read_text()
        except UnicodeDecodeError:
            continue
        if f == Path(__file__):  # this file names the patterns it forbids
            continue
        problems += [f"{f.relative_to(REPO)}: {ref}" for ref in outside_references(f, text)]
    assert not problems, "files that refer outside the repository:\n" + "\n".join(problems)


def test_the_check_finds_what_it_must(tmp_path):
    """The check itself can fail: each kind of outside reference is caught, paths inside pass."""
    inside = REPO / "rules" / "x.smk"
    assert outside_references(inside, 'script: "../workflow_scripts/a.py"') == []
    assert outside_references(REPO / "workflow_scripts" / "cron" / "d.sh", 'cd "$(dirname $0)/../.."') == []
    assert outside_references(inside, "see ../../shared/reference/qlib-format.md")
    assert outside_references(inside, "Layout (see /work/shared/reference/qlib-format.md)")
    assert outside_references(REPO / "tests" / "t.py", 'REPO.parent / "shared"')
    assert outside_references(REPO / "tests" / "t.py", "path = '../shared/fixtures/polygon'")
    assert outside_references(REPO / "tests" / "t.py", 'os.environ.get("QUANTMINI_SHARED")')


def test_vendor_fixtures_are_inside_the_repository(fixtures_dir):
    assert fixtures_dir.is_relative_to(REPO) and (fixtures_dir / "README.md").is_file()
    assert (fixtures_dir / "openapi_subset_massive_2025-10.json").is_file()


def test_ci_runs_readme_quick_start_commands_as_written():
    """.ci/run must run exactly the two commands README's Quick start gives a new user."""
    import re as _re

    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = _re.findall(r"```bash\n(.*?)\n```", quick, flags=_re.S)[:2]
    assert len(commands) == 2, commands
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command.strip() in [line.strip() for line in ci], f".ci/run does not run README's `{command}`"
