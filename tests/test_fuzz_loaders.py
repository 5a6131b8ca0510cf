"""Fuzzing the loaders: any space file or architecture JSON is accepted or rejected with the
typed error, never a crash (hypothesis)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bortnas import Architecture, load_architecture, load_space
from bortnas.core.errors import BortnasError
from bortnas.search_spaces import parse_space

SIZES = st.one_of(
    st.integers(min_value=-5, max_value=2_000_000),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)
VALUE_LISTS = st.one_of(st.lists(SIZES, max_size=5), SIZES)
KEYS = st.sampled_from(["depth", "heads", "hidden", "intermediate", "layers", "vocab_size"])
TABLES = st.dictionaries(KEYS, VALUE_LISTS, max_size=5)
SPACES = st.dictionaries(
    st.sampled_from(["description", "dimensions", "context", "constraints", "extra"]),
    st.one_of(TABLES, SIZES, st.dictionaries(st.text(max_size=8), SIZES, max_size=3)),
    max_size=4,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPACES)
def test_space_mappings_are_accepted_or_rejected_cleanly(data: dict) -> None:
    try:
        space = parse_space(data, name="fuzz", source="fuzz.toml")
    except BortnasError:
        return
    assert space.size >= 1
    assert all(isinstance(c, Architecture) for c in space.candidates)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_space_files_of_arbitrary_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "space.toml"
        path.write_bytes(raw)
        with contextlib.suppress(BortnasError):
            load_space(path)


ARCHITECTURE_JSON = st.dictionaries(
    st.sampled_from(
        [
            "num_hidden_layers",
            "num_attention_heads",
            "hidden_size",
            "intermediate_size",
            "vocab_size",
            "max_position_embeddings",
            "type_vocab_size",
            "bortnas",
        ]
    ),
    SIZES,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ARCHITECTURE_JSON, st.lists(SIZES), SIZES))
def test_architecture_json_is_accepted_or_rejected_cleanly(data: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        path.write_text(json.dumps(data))
        try:
            architecture, _ = load_architecture(path)
        except BortnasError:
            return
        assert architecture.hidden % architecture.heads == 0
