"""Every reader of a public data set, given a path that does not exist, says how to fetch the data (the exact
commands at the commit llmbench was checked against), and the README's data table agrees with that one source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmbench.errors import DataError
from llmbench.imports import read_routellm, read_routerbench
from llmbench.imports.alpacaeval import read_alpacaeval_leaderboard, read_alpacaeval_pairs
from llmbench.imports.llmbar import read_llmbar
from llmbench.public_data import PUBLIC_DATA
from llmbench.tools.bfcl import bfcl_categories, load_bfcl

README = Path(__file__).resolve().parents[1] / "README.md"

READERS: dict[str, list[Callable[[Path], Any]]] = {
    "routerbench": [read_routerbench],
    "routellm": [read_routellm],
    "alpacaeval": [read_alpacaeval_pairs, read_alpacaeval_leaderboard],
    "bfcl": [lambda p: load_bfcl("simple_python", p), bfcl_categories],
    "llmbar": [read_llmbar],
}


def test_every_public_data_set_has_its_readers_here() -> None:
    assert READERS.keys() == PUBLIC_DATA.keys()


@pytest.mark.parametrize(
    ("name", "reader"), [(n, r) for n, readers in READERS.items() for r in readers], ids=lambda v: str(v)[:20]
)
def test_a_missing_path_names_the_fetch_step(name: str, reader: Callable[[Path], Any], tmp_path: Path) -> None:
    source = PUBLIC_DATA[name]
    with pytest.raises(DataError) as caught:
        reader(tmp_path / "not-here")
    message = str(caught.value)
    assert str(tmp_path / "not-here") in message
    assert f"git clone {source.repository} && git -C {source.clone} checkout {source.commit}" in message
    assert f"{source.clone}/{source.folder}" in message


def test_the_readme_table_names_each_source_at_its_commit() -> None:
    text = README.read_text(encoding="utf-8")
    for source in PUBLIC_DATA.values():
        host_path = source.repository.removeprefix("https://")
        assert f"{host_path} (`{source.commit}`)" in text, source.repository
