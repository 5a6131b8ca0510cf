"""No storage password in any output: files of a run, the study's attributes, console, errors.

Run folders get shared, attached to bug reports and committed, so a password given in a storage
URL must never reach them. The PostgreSQL test needs a server (`.ci/run` starts one on loopback
and sets BORTNAS_TEST_POSTGRES_URL); it makes a role of its own with a password found nowhere else.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import optuna
import pytest

from bortnas.cli.main import main
from bortnas.extraction.config import SearchConfig
from bortnas.extraction.report import print_report
from bortnas.extraction.search import search
from bortnas.extraction.store import mask_url, scrub
from tests.support.formula_proxies import formula_proxies

POSTGRES_URL = os.environ.get("BORTNAS_TEST_POSTGRES_URL")


def test_urls_are_shown_with_the_password_masked() -> None:
    url = "postgresql+psycopg://alice:s3cr%40t@db.example:5432/studies"
    assert mask_url(url) == "postgresql+psycopg://alice:***@db.example:5432/studies"
    assert mask_url("sqlite:///runs/x/study.db") == "sqlite:///runs/x/study.db"
    assert mask_url(None) is None
    text = scrub(f"connection to {url} failed for password s3cr@t (raw s3cr%40t)", url)
    assert "s3cr" not in text
    assert "alice:***@db.example" in text


def test_an_unreachable_store_does_not_print_its_password(capsys, tmp_path: Path) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    url = f"postgresql+psycopg://nobody:{secret}@127.0.0.1:1/none"
    code = main(["search", "--space", "tiny", "--storage", url, "--runs-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "cannot open study storage" in captured.err
    assert secret not in captured.err + captured.out
    assert not any(
        secret in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file()
    )


@pytest.fixture
def postgres_role() -> tuple[str, str]:
    """A fresh database and a role with a unique password; yields (URL with it, the password)."""
    if not POSTGRES_URL:
        pytest.skip("BORTNAS_TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    suffix = uuid.uuid4().hex[:8]
    role, password, database = f"u_{suffix}", f"pw-{uuid.uuid4().hex}", f"bortnas_{suffix}"
    admin = optuna.storages.RDBStorage(POSTGRES_URL).engine
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        connection.exec_driver_sql(f"CREATE DATABASE {database} OWNER {role}")
    admin.dispose()
    host = POSTGRES_URL.rsplit("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{role}:{password}@{host}/{database}", password


@pytest.mark.slow
def test_no_file_or_attribute_of_a_postgresql_run_holds_the_password(
    postgres_role: tuple[str, str], tmp_path: Path, capsys
) -> None:
    url, password = postgres_role
    config = SearchConfig(space="tiny", runs_dir=str(tmp_path), storage=url)
    result = search(config, proxies=formula_proxies(), on_message=print)
    from rich.console import Console

    print_report(result, Console(width=200))
    captured = capsys.readouterr()
    assert password not in captured.out + captured.err
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "summary.json" for p in written)
    leaks = [str(p) for p in written if password.encode() in p.read_bytes()]
    assert leaks == []
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["study"]["storage"] == mask_url(url)
    study = optuna.load_study(study_name=result.study_name, storage=url)
    attributes = json.dumps(
        [study.user_attrs, *[t.user_attrs for t in study.get_trials(deepcopy=False)]],
        default=str,
    )
    assert password not in attributes


@pytest.mark.slow
def test_the_password_can_come_from_the_environment(
    postgres_role: tuple[str, str], tmp_path: Path, monkeypatch
) -> None:
    url, password = postgres_role
    monkeypatch.setenv("PGPASSWORD", password)  # libpq's own variable, as ~/.pgpass would be
    without = url.replace(f":{password}@", "@")
    result = search(
        SearchConfig(space="tiny", runs_dir=str(tmp_path), storage=without),
        proxies=formula_proxies(),
    )
    assert len(result.table) > 0
    assert password not in (result.run_dir / "summary.json").read_text()
