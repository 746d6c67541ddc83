"""Finding the shared public data (`llmbench.testing.require_shared_data`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbench.errors import DataError
from llmbench.testing import require_shared_data


def test_a_missing_data_set_is_named_with_where_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "alpacaeval").mkdir()
    monkeypatch.setenv("LLMBENCH_SHARED_DATA", str(tmp_path))
    assert require_shared_data("alpacaeval") == tmp_path / "alpacaeval"
    assert require_shared_data() == tmp_path
    with pytest.raises(
        DataError, match=r"\.\./shared/data/routellm is absent: .*README.*LLMBENCH_SHARED_DATA"
    ) as caught:
        require_shared_data("routellm")
    # the fetch step of the data set asked for, and only of it
    assert "git clone https://github.com/lm-sys/RouteLLM && git -C RouteLLM checkout" in str(caught.value)
    assert "RouterDC" not in str(caught.value)
