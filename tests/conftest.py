"""Shared test set-up: every test gets its own cache folder, so no test sees another's values.

Only measurements and studies need that isolation. The corpus, the tokenizers and the teacher
embeddings are content-addressed (their file names hash everything they depend on), so every
test's cache links to one shared copy of them: each is built once per test session, not once per
test and subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: Cache sub-folders whose entries are keyed by content (see `default_cache_dir()` users).
CONTENT_ADDRESSED = ("corpus", "tokenizers", "teacher", "teachers")


@pytest.fixture(scope="session")
def _shared_artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = tmp_path_factory.mktemp("shared-artefacts")
    for name in CONTENT_ADDRESSED:
        (shared / name).mkdir()
    return shared


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, _shared_artefacts
):
    cache = tmp_path_factory.mktemp("cache")
    for name in CONTENT_ADDRESSED:
        (cache / name).symlink_to(_shared_artefacts / name, target_is_directory=True)
    monkeypatch.setenv("BORTNAS_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
