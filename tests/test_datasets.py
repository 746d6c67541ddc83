"""Dataset loading (JSONL, CSV, Parquet), validation errors, and the shipped evaluation sets."""

from __future__ import annotations

import asyncio
import json
import math

import jsonschema
import pandas as pd
import pytest

from llmbench.datasets import Dataset, Item, dataset_from_records, load_dataset, shipped_datasets
from llmbench.errors import DataError
from llmbench.scorers import available_scorers, get_scorer
from llmbench.store import Store

SHIPPED = ("arithmetic", "code", "extraction", "classification", "factual")


def write_jsonl(path, rows) -> None:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")


# -- loaders ----------------------------------------------------------------------------------------------


def test_jsonl_with_aliases_and_chat_input(tmp_path):
    path = tmp_path / "set.jsonl"
    write_jsonl(
        path,
        [
            {"id": "a", "input": "What is 2+2?", "reference": 4, "task": "math", "metadata": {"difficulty": 0.1}},
            "",
            {"item_id": 7, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
             "answer": "hello", "scorer": "contains"},
        ],
    )  # fmt: skip
    ds = load_dataset(path)
    assert ds.name == "set" and len(ds) == 2 and ds.path == path
    a, b = ds
    assert (a.id, a.prompt, a.reference, a.task, a.difficulty) == ("a", "What is 2+2?", 4, "math", 0.1)
    assert (b.id, b.prompt, b.reference, b.scorer, b.difficulty) == ("7", "Hi?", "hello", "contains", None)
    assert [m.role for m in b.messages()] == ["system", "user"] and b.messages()[1].text == "Hi?"
    assert ds["7"] is b and ds[0] is a


def test_csv_extra_columns_go_to_metadata(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text(
        'id,input,reference,task,source,metadata\n'
        'q1,"Capital of France, in one word?",Paris,geo,atlas,"{""difficulty"": 0.2}"\n'
        'q2,"Multi\nline prompt",42,math,,\n'
        "q3,Say hi,hi,chat,web,\n"
    )  # fmt: skip
    ds = load_dataset(path)
    assert [i.id for i in ds] == ["q1", "q2", "q3"]
    assert ds["q1"].prompt == "Capital of France, in one word?"
    assert ds["q1"].metadata == {"source": "atlas", "difficulty": 0.2}
    assert ds["q2"].prompt == "Multi\nline prompt" and ds["q2"].reference == "42"
    assert ds["q3"].metadata == {"source": "web"}


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "set.parquet"
    pd.DataFrame(
        {
            "id": ["p1", "p2"],
            "prompt": ["one?", "two?"],
            "target": ["1", "2"],
            "task": ["count", "count"],
            "difficulty": [0.3, 0.6],
        }
    ).to_parquet(path)
    ds = load_dataset(path)
    assert [(i.id, i.prompt, i.reference, i.metadata["difficulty"]) for i in ds] == [
        ("p1", "one?", "1", 0.3),
        ("p2", "two?", "2", 0.6),
    ]
    frame = ds.to_frame()
    assert frame["item_id"].tolist() == ["p1", "p2"] and frame["difficulty"].tolist() == [0.3, 0.6]


def test_malformed_jsonl_reports_every_problem_with_line_numbers(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_jsonl(
        path,
        [
            {"id": "ok", "input": "fine"},
            '{"id": "broken", "input": ',
            {"input": "no id here"},
            {"id": "ok", "input": "same id again"},
            {"id": "e", "input": "   "},
            {"id": "f", "input": "x", "refrence": "typo"},
            {"id": "g", "input": [{"role": "robot", "content": "x"}]},
        ],
    )
    with pytest.raises(DataError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert str(path) in msg and "6 problem(s)" in msg, msg
    assert "line 2: invalid JSON" in msg
    assert "line 3: field 'id': required but missing" in msg
    assert "line 4: field 'id': 'ok' already used at line 1" in msg
    assert "line 5: field 'input'" in msg and "empty" in msg
    assert "line 6: field 'refrence': unknown field" in msg
    assert "line 7: field 'input.0.role'" in msg


def test_malformed_csv_and_unknown_formats(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,input\na,hello\nb,\nc,x,extra\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert "line 3: field 'input': required but missing" in msg
    assert "line 4: more cells than header columns" in msg
    other = tmp_path / "set.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match=r"use \.jsonl, \.csv or \.parquet"):
        load_dataset(other)
    with pytest.raises(DataError, match="not found"):
        load_dataset("no-such-set")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="no items"):
        load_dataset(empty)


def test_a_bad_dataset_never_reaches_the_store(tmp_path):
    """The runner loads (and so validates) before writing: a bad file raises and the store stays empty."""
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [{"id": "a", "input": "ok"}, {"id": "b"}])
    with Store.open(tmp_path / "runs.duckdb") as store:
        store.create_experiment("e", git_commit_sha=None)
        with pytest.raises(DataError, match="line 2"):
            store.add_items("e", load_dataset(path))
        assert store.items_frame("e").empty


def test_dataset_helpers():
    ds = dataset_from_records(
        [{"id": f"i{n}", "input": f"q{n}", "task": "even" if n % 2 == 0 else "odd"} for n in range(10)]
    )
    assert ds.tasks == ["even", "odd"]
    assert [i.id for i in ds.filter(task="odd")] == ["i1", "i3", "i5", "i7", "i9"]
    assert [i.id for i in ds.filter(ids=["i2", "i4"])] == ["i2", "i4"]
    assert len(ds.head(3)) == 3
    picked = ds.sample(4, seed=1)
    assert len(picked) == 4 and [i.id for i in picked] == [i.id for i in ds.sample(4, seed=1)]
    assert [i.id for i in picked] == sorted((i.id for i in picked), key=lambda s: int(s[1:]))
    with pytest.raises(DataError, match="twice"):
        Dataset("d", [Item(id="a", input="x"), Item(id="a", input="y")])
    with pytest.raises(DataError, match="record 0: field 'bogus'"):
        dataset_from_records([{"id": "a", "input": "x", "bogus": 1}])


# -- shipped sets -----------------------------------------------------------------------------------------


def test_shipped_sets_are_well_formed():
    shipped = shipped_datasets()
    assert set(SHIPPED) <= set(shipped)
    for name in SHIPPED:
        ds = load_dataset(name)
        assert 25 <= len(ds) <= 40, name
        assert ds.tasks == [name], name
        for i in ds:
            assert 0.0 <= i.difficulty <= 1.0, i.id
            assert i.scorer in available_scorers(), i.id
            assert i.reference is not None, i.id
        # Difficulty is a judgement, not a constant: each set spans easy and hard items.
        values = [i.difficulty for i in ds]
        assert max(values) - min(values) >= 0.4, name


def test_arithmetic_references_equal_their_worked_expressions():
    for i in load_dataset("arithmetic"):
        value = eval(i.metadata["expression"], {"math": math})
        assert math.isclose(value, float(i.reference), rel_tol=1e-9, abs_tol=1e-9), i.id
        scorer = get_scorer(i.scorer)
        assert scorer(f"Step by step... so the answer is {i.reference}.", i).value == 1.0
        assert scorer(f"The answer is {float(i.reference) + 1}", i).value == 0.0


@pytest.mark.slow
def test_code_solutions_pass_their_tests_and_stubs_fail():
    ds = load_dataset("code")
    scorer = get_scorer("python_tests", timeout_s=30)

    async def run() -> tuple[list, list]:
        sem = asyncio.Semaphore(4)

        async def one(output: str, item: Item):
            async with sem:
                return await scorer.score(output, item)

        good = await asyncio.gather(*(one(f"```python\n{i.metadata['solution']}```", i) for i in ds))
        stub = await asyncio.gather(*(one("def placeholder():\n    return None", i) for i in ds))
        return good, stub

    good, stub = asyncio.run(run())
    assert [i.id for i, r in zip(ds, good, strict=True) if r.value != 1.0] == []
    assert all(r.value == 0.0 for r in stub)
    for i in ds:
        assert "def test_" in i.reference and i.metadata["solution"].strip()


def test_extraction_references_satisfy_their_schemas():
    scorer = get_scorer("json_schema")
    for i in load_dataset("extraction"):
        jsonschema.validate(i.reference, i.metadata["schema"])
        assert set(i.metadata["schema"]["required"]) == set(i.reference), i.id
        for key in i.reference:
            assert key in i.prompt, (i.id, key)  # the prompt names every key it expects
        assert scorer(f"```json\n{json.dumps(i.reference)}\n```", i).value == 1.0
        dropped = dict(i.reference)
        dropped.pop(next(iter(dropped)))
        assert scorer(json.dumps(dropped), i).value == 0.0


def test_classification_and_factual_references():
    for i in load_dataset("classification"):
        assert i.reference in i.metadata["labels"], i.id
        assert all(label in i.prompt for label in i.metadata["labels"]), i.id
        scorer = get_scorer(i.scorer)
        assert scorer(i.reference.capitalize() + ".", i).value == 1.0
        wrong = next(label for label in i.metadata["labels"] if label != i.reference)
        assert scorer(wrong, i).value == 0.0
    for i in load_dataset("factual"):
        assert get_scorer(i.scorer)(f"It is {i.reference}.", i).value == 1.0, i.id
        assert get_scorer(i.scorer)("I do not know.", i).value == 0.0, i.id
