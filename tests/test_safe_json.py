"""safe_json: remote JSON parsed into values every later step can walk and store."""

from __future__ import annotations

import json

import pytest

from fediverse_ai import safe_json
from fediverse_ai.errors import BadRequest


def test_ordinary_documents_come_back_unchanged() -> None:
    doc = {"id": "https://a.example/1", "tag": [{"name": "#café", "n": 1}], "ok": True}
    assert safe_json.loads(json.dumps(doc).encode()) == doc


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
def test_deep_nesting_is_a_bad_request_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(BadRequest, match="nested too deeply"):
        safe_json.loads("[" * depth + "]" * depth)


def test_the_depth_limit_counts_objects_and_arrays() -> None:
    at_limit = '{"a":' * (safe_json.MAX_DEPTH - 1) + "[]" + "}" * (safe_json.MAX_DEPTH - 1)
    assert safe_json.loads(at_limit) is not None
    over = '{"a":' * safe_json.MAX_DEPTH + "[]" + "}" * safe_json.MAX_DEPTH
    with pytest.raises(BadRequest, match="nested too deeply"):
        safe_json.loads(over)


def test_lone_surrogates_become_replacement_characters_in_values_and_keys() -> None:
    doc = safe_json.loads(b'{"content": "caf\\ud800e", "k\\udfff": ["\\udbff", 1]}')
    assert doc == {"content": "caf\ufffde", "k\ufffd": ["\ufffd", 1]}
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # storable as UTF-8 now


def test_surrogate_pairs_stay_the_character_they_spell() -> None:
    assert safe_json.loads('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe{", b"[1,]", b"NaN-ish"])
def test_invalid_json_is_a_bad_request(data: bytes) -> None:
    with pytest.raises(BadRequest):
        safe_json.loads(data)
