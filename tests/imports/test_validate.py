"""The one validation layer under every importer: each error names the row, column and value; missing values are
counted, not fatal; costs are priced where missing and say how; judge scores on other scales are rescaled."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.imports import Columns, ImportOptions, import_file, read_routellm, read_routerbench, read_runs
from llmbench.providers.pricing import ModelPrice, PriceTable
from llmbench.store import Store


def _wide(path: Path, **overrides: object) -> Path:
    """A small RouterBench-layout CSV: two models with scores, costs and responses; cells overridable."""
    rows = []
    for i in range(6):
        rows.append({"sample_id": f"s{i}", "prompt": f"['question {i}?']", "eval_name": "qa",
                     "big": 1.0, "small": float(i % 2), "big|total_cost": 0.01, "small|total_cost": 0.001,
                     "big|model_response": "['yes']", "small|model_response": "['no']"})  # fmt: skip
    frame = pd.DataFrame(rows).astype(object)
    for key, value in overrides.items():
        row, col = key.split(":")
        frame.loc[int(row), col] = value
    frame.to_csv(path, index=False)
    return path


def test_a_score_outside_zero_one_names_row_model_value_and_both_flags(tmp_path: Path) -> None:
    path = _wide(tmp_path / "meteor.csv", **{"3:small": -0.033})
    with pytest.raises(DataError) as err:
        read_routerbench(path)
    text = str(err.value)
    assert "row 4" in text and "'small'" in text and "-0.033" in text  # row 4 = the 4th data row
    assert "--score-range" in text and "--clip" in text and "1 scores lie outside [0, 1]" in text
    clipped = read_routerbench(path, options=ImportOptions(clip=True))
    assert clipped.attrs["import_report"].clipped == 1
    assert clipped["score"].min() == 0.0
    far = _wide(tmp_path / "far.csv", **{"2:big": 7})
    with pytest.raises(DataError, match=r"by more than --clip's 0\.1.*row 3.*'big'"):
        read_routerbench(far, options=ImportOptions(clip=True))


@pytest.mark.parametrize(
    ("cell", "value", "words"),
    [
        ("1:big|total_cost", -5, ["row 2", "'big|total_cost'", "-5", "costs are negative"]),
        ("4:small|total_cost", "inf", ["row 5", "'small|total_cost'", "'inf'"]),
        ("0:big", "abc", ["row 1", "'big'", "'abc'", "not numbers"]),
        ("5:small", "True", ["row 6", "'True'", "not numbers"]),
    ],
)
def test_bad_cells_are_errors_that_name_them(
    tmp_path: Path, cell: str, value: object, words: list[str]
) -> None:
    path = _wide(tmp_path / "bad.csv", **{cell: value})
    with pytest.raises(DataError) as err:
        read_routerbench(path)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_empty_and_header_only_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("prompt,model,score\n")
    (tmp_path / "empty.csv").write_text("")
    for name in ("header.csv", "empty.csv"):
        with pytest.raises(DataError, match="no data rows"):
            read_runs(tmp_path / name)


def test_long_form_duplicates_missing_values_and_unknown_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "question": ["a?", "a?", "b?", "b?", "a?"],
            "llm": ["x", "y", "x", "y", "x"],
            "rating": [1, 0, None, 1, 1],
        }
    )
    frame.to_csv(tmp_path / "dup.csv", index=False)
    cols = Columns({"prompt": "question", "model": "llm", "score": "rating"})
    with pytest.raises(DataError, match=r"2 rows repeat the same \(prompt, model, epoch\).*row 1.*row 5"):
        read_runs(tmp_path / "dup.csv", columns=cols)
    frame.head(4).to_csv(tmp_path / "ok.csv", index=False)
    runs = read_runs(tmp_path / "ok.csv", columns=cols)
    report = runs.attrs["import_report"]
    assert report.missing_scores == {"x": 1, "y": 0} and report.prompts == 2
    assert any("missing scores" in line for line in report.lines())
    with pytest.raises(DataError, match=r"no column 'nope' \(for --prompt-col\)"):
        read_runs(tmp_path / "ok.csv", columns=Columns({"prompt": "nope"}))
    frame.rename(columns={"llm": "engine"}).to_csv(tmp_path / "nomodel.csv", index=False)
    with pytest.raises(DataError, match=r"which column holds the model; name it with --model-col"):
        read_runs(tmp_path / "nomodel.csv", columns=Columns({"prompt": "question", "score": "rating"}))


def test_costs_are_priced_where_missing_and_say_how(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p" * 40, "model": "openai:gpt-4o-mini", "score": 1, "response": "r" * 8},
        {"prompt": "q" * 40, "model": "openai:gpt-4o-mini", "score": 0, "response": None},
        {"prompt": "p" * 40, "model": "house-model", "score": 1, "response": "ok"},
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    runs = read_runs(tmp_path / "runs.csv")
    report = runs.attrs["import_report"]
    assert report.unpriced == ["house-model"] and any("--price-file" in line for line in report.lines())
    by = runs.set_index(["prompt", "model"])
    mini = by.loc[("p" * 40, "openai:gpt-4o-mini")]
    # 40 chars -> 10 tokens in, 8 chars -> 2 tokens out, at gpt-4o-mini's $0.15 / $0.60 per 1M
    assert mini["cost_basis"] == "estimated" and mini["cost_usd"] == pytest.approx(
        (10 * 0.15 + 2 * 0.6) / 1e6
    )
    assert by.loc[("q" * 40, "openai:gpt-4o-mini"), "cost_basis"] == "prompt_only"
    assert any("PROMPT-ONLY" in line for line in report.lines())
    assert pd.isna(by.loc[("p" * 40, "house-model"), "cost_usd"])
    table = PriceTable({"house-model": ModelPrice(input=1.0, output=2.0)})
    priced = read_runs(tmp_path / "runs.csv", options=ImportOptions(prices=table)).set_index(
        ["prompt", "model"]
    )
    assert priced.loc[("p" * 40, "house-model"), "cost_usd"] == pytest.approx((10 * 1 + 1 * 2) / 1e6)


def test_scores_objects_one_row_per_prompt(tmp_path: Path) -> None:
    rows = [{"question": "q1", "scores": {"m1": 0.5, "m2": 1}}, {"question": "q2", "scores": {"m1": 0.25}}]
    with gzip.open(tmp_path / "matrix.json.gz", "wt") as fh:
        json.dump(rows, fh)
    runs = read_runs(tmp_path / "matrix.json.gz", columns=Columns({"prompt": "question"}, scores="scores"))
    got = {(r.prompt, r.model): r.score for r in runs.itertuples()}
    assert got == {("q1", "m1"): 0.5, ("q1", "m2"): 1.0, ("q2", "m1"): 0.25}


@pytest.mark.slow
def test_judge_scores_on_one_to_ten_import_through_the_cli_and_route(tmp_path: Path, cli) -> None:
    """The done-when of the importer work: a long CSV of 1-10 judge scores, rescaled, trains and evaluates."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(80):
        topic = ["math", "poem"][i % 2]
        words = {"math": "add sum number integer", "poem": "verse rhyme poem stanza"}[topic]
        for model, skill, price in (
            ("judge-small", {"math": 3, "poem": 8}, 0.0004),
            ("judge-big", {"math": 9, "poem": 8}, 0.01),
        ):
            rows.append({"question_id": i, "question": f"{words} {i}", "model": model, "category": topic,
                         "score": int(np.clip(skill[topic] + rng.integers(-1, 2), 1, 10)), "cost": price})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "judged.csv", index=False)
    store = tmp_path / "runs.duckdb"
    out = cli("import", "runs", tmp_path / "judged.csv", "--score-range", "1,10", "--store", store)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rescaled from [1, 10]" in out.stdout
    with Store.open(store, read_only=True) as st:
        runs = st.runs_frame("judged")
    assert runs["score"].between(0, 1).all() and runs["score"].max() <= 1.0 and len(runs) == 160
    refused = cli("import", "runs", tmp_path / "judged.csv", "--store", tmp_path / "other.duckdb")
    assert refused.returncode == 2 and "--score-range" in refused.stderr and "row 1" in refused.stderr
    out = cli("router", "eval", "--store", store, "-e", "judged", "--no-track", "--bootstrap", "20")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "zero router" in out.stdout and "90% intervals" in out.stdout
    policy = tmp_path / "policy.json"
    out = cli("router", "train", "--store", store, "-e", "judged", "--out", policy, "--no-track")
    assert out.returncode == 0 and policy.is_file()


def _mt_bench(folder: Path, with_questions: bool) -> None:
    (folder / "evals" / "mt_bench").mkdir(parents=True)
    judged = []
    for qid in (81, 82):
        for model, score in (("gpt-4-1106-preview", 9), ("mistralai/Mixtral-8x7B-Instruct-v0.1", 6)):
            for turn in (1, 2):
                prompt = f"[Question]\nQuestion {qid}?\n\n[The Start of Assistant's Answer]\nAnswer {qid}\n[The End of Assistant's Answer]"
                value = -1 if (qid, turn, score) == (82, 2, 6) else score - (turn - 1)
                judged.append({"question_id": qid, "model": model, "judge": ["gpt-4", "single-v1"],
                               "user_prompt": prompt, "judgment": "...", "score": value, "turn": turn})  # fmt: skip
    lines = "\n".join(json.dumps(j) for j in judged)
    (folder / "evals" / "mt_bench" / "judgements.jsonl").write_text(lines)
    if with_questions:
        qs = [
            {"question_id": q, "category": "writing", "turns": [f"Q{q} first", f"Q{q} second"]}
            for q in (81, 82)
        ]
        (folder / "evals" / "mt_bench" / "question.jsonl").write_text("\n".join(json.dumps(q) for q in qs))


@pytest.mark.parametrize("with_questions", [True, False])
def test_routellm_mt_bench_means_of_turns_rescaled(tmp_path: Path, with_questions: bool) -> None:
    _mt_bench(tmp_path, with_questions)
    runs = read_routellm(tmp_path, benchmarks=("mt_bench",))
    by = runs.set_index(["item_id", "model"])["score"]
    # gpt-4: turns 9 and 8 -> (8.5 - 1) / 9; mixtral on 82: turn 2 has no rating (-1) -> turn 1 alone: (6-1)/9
    assert by[("mt_bench.81", "gpt-4-1106-preview")] == pytest.approx(7.5 / 9)
    assert by[("mt_bench.82", "mistralai/Mixtral-8x7B-Instruct-v0.1")] == pytest.approx(5 / 9)
    prompts = set(runs["prompt"])
    assert prompts == ({"Q81 first", "Q82 first"} if with_questions else {"Question 81?", "Question 82?"})
    assert (runs["cost_usd"] > 0).all() and set(runs["cost_basis"]) == {"estimated"}


def test_routellm_folder_without_a_benchmark_says_which_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no MT-Bench judgements"):
        read_routellm(tmp_path, benchmarks=("mt_bench",))
    with pytest.raises(DataError, match="unknown RouteLLM benchmark"):
        read_routellm(tmp_path, benchmarks=("hellaswag",))


def test_import_into_a_store_equals_the_frame_row_for_row(tmp_path: Path) -> None:
    path = _wide(tmp_path / "rb_test.csv", **{"2:small": None})
    frame = read_routerbench(path, experiment="rb")
    with Store.open(tmp_path / "runs.duckdb") as st:
        report = import_file(st, "routerbench", path, name="rb")
        stored = st.runs_frame("rb")
        with pytest.raises(Exception, match="already exists"):
            import_file(st, "routerbench", path, name="rb")
    assert report.rows == len(frame) == len(stored) == 12
    key = ["item_id", "model"]
    a, b = stored.sort_values(key).reset_index(drop=True), frame.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns=["experiment"]), b.drop(columns=["experiment", "split"]))


@pytest.mark.shared
@pytest.mark.slow
def test_the_shared_routerbench_files_import_into_a_store_as_the_frame_reads_them(
    shared_data: Path, tmp_path: Path
) -> None:
    """The SQL import straight into a store equals the runs frame of the same files, row for row, on the real
    RouterBench folder (3 tasks, train and test, 11 models)."""
    folder = shared_data / "routerdc" / "datasets" / "routerbench_zs"
    frame = read_routerbench(folder, experiment="rb")
    with Store.open(tmp_path / "runs.duckdb") as st:
        report = import_file(st, "routerbench", folder, name="rb")
        stored = st.runs_frame("rb")
    assert report.rows == len(frame) == len(stored) > 30_000
    key = ["item_id", "model"]
    a, b = stored.sort_values(key).reset_index(drop=True), frame.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns=["experiment"]), b.drop(columns=["experiment", "split"]))


@pytest.mark.shared
def test_the_open_llm_score_matrix_imports_as_scores_objects(shared_data: Path) -> None:
    path = shared_data / "routerdc" / "datasets" / "split2_model7" / "gsm8k-test.json.gz"
    runs = read_runs(path, columns=Columns({"prompt": "question"}, scores="scores"))
    assert runs["model"].nunique() == 7 and runs["item_id"].nunique() == 1319  # MANIFEST: 1,319 rows
    assert runs["score"].between(0, 1).all()


def _long_answer(qid: int, model: str) -> str:
    return " ".join([f"{model}'s first answer {qid}"] * 30)


def _fastchat_rows(qid: int, model: str, math: bool) -> list[dict[str, object]]:
    """FastChat's two judgements of one (question, model), in its real judge-prompt layouts."""
    q1, q2, a1, a2 = (
        f"First question {qid}?",
        f"Second question {qid}?",
        _long_answer(qid, model),
        f"Second {qid}",
    )
    ref = "[The Start of Reference Answer]\n42\n[The End of Reference Answer]\n\n" if math else ""
    single = (
        f"[Question]\n{q1}\n\n{ref}[The Start of Assistant's Answer]\n{a1}\n[The End of Assistant's Answer]"
    )
    ref2 = (
        "<|The Start of Reference Answer|>\n\n### User:\n"
        + q1
        + "\n\n### Reference answer:\n42\n\n### User:\n"
        + q2
        + "\n\n### Reference answer:\n43\n\n<|The End of Reference Answer|>\n\n\n"
        if math
        else ""
    )
    multi = (
        f"{ref2}<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{q1}\n\n### Assistant A:\n{a1}"
        f"\n\n### User:\n{q2}\n\n### Assistant A:\n{a2}\n\n<|The End of Assistant A's Conversation with User|>"
    )
    return [
        {"question_id": qid, "model": model, "judge": ["gpt-4", "single-v1"], "user_prompt": single, "score": 8, "turn": 1},
        {"question_id": qid, "model": model, "judge": ["gpt-4", "single-v1-multi-turn"], "user_prompt": multi,
         "score": 6, "turn": 2},
    ]  # fmt: skip


@pytest.mark.parametrize("turn_two_first", [False, True])
def test_mt_bench_turns_in_either_order_give_both_answers_and_both_calls_costs(
    tmp_path: Path, turn_two_first: bool
) -> None:
    folder = tmp_path / "evals" / "mt_bench"
    folder.mkdir(parents=True)
    rows = []
    for qid, math in ((101, False), (111, True)):
        for model in ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"):
            pair = _fastchat_rows(qid, model, math)
            rows += pair[::-1] if turn_two_first else pair
    (folder / "judgements.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    runs = read_routellm(tmp_path, benchmarks=("mt_bench",)).set_index(["item_id", "model"])
    gpt4 = runs.loc[("mt_bench.111", "gpt-4-1106-preview")]
    assert (
        gpt4["prompt"] == "First question 111?"
    )  # the question alone: never an answer in the router's input
    q1, a1, q2, a2 = (
        "First question 111?",
        _long_answer(111, "gpt-4-1106-preview"),
        "Second question 111?",
        "Second 111",
    )
    assert gpt4["response"] == f"{a1}\n\n{a2}"
    tokens = lambda text: max(1, -(-len(text) // 4))  # noqa: E731
    assert gpt4["input_tokens"] == tokens(q1) + tokens(q1 + a1 + q2)
    assert gpt4["output_tokens"] == tokens(a1) + tokens(a2)
    assert gpt4["cost_usd"] == pytest.approx((gpt4["input_tokens"] * 10 + gpt4["output_tokens"] * 30) / 1e6)
    assert set(runs["cost_basis"]) == {"estimated"} and gpt4["score"] == pytest.approx((7 - 1) / 9)


def test_a_judge_prompt_is_never_guessed_as_the_prompt(tmp_path: Path) -> None:
    """FastChat's judgement files: `user_prompt` is the judge's prompt, quoting each model's answer. Guessing it
    would show the router the answers; the guess moves on to a real prompt column, or the import asks for one."""
    rows = [r for qid in (101, 102, 103) for m in ("gpt-4", "mixtral") for r in _fastchat_rows(qid, m, False)]
    judged = tmp_path / "judgements.jsonl"
    judged.write_text("\n".join(json.dumps(r) for r in rows))
    scale = ImportOptions(score_range=(1, 10))
    with pytest.raises(
        DataError, match=r"'user_prompt' was the guess for the prompt, but its text differs between"
    ):
        read_runs(judged, options=scale)
    rows = [r for r in rows if r["turn"] == 1]  # one row per (question, model) from here on
    for r in rows:
        r["question"] = f"First question {r['question_id']}?"
    judged.write_text("\n".join(json.dumps(r) for r in rows))
    runs = read_runs(judged, options=scale)
    assert set(runs["prompt"]) == {f"First question {q}?" for q in (101, 102, 103)}
    assert "prompt <- 'question' (guessed)" in " ".join(runs.attrs["import_report"].lines())
    given = read_runs(
        judged, columns=Columns({"prompt": "user_prompt"}), options=scale
    )  # named by the user: taken as asked
    assert given["prompt"].str.contains("Assistant's Answer|Conversation with User").all()


def test_a_file_of_one_models_runs_takes_its_model_name_from_the_command_line(tmp_path: Path, cli) -> None:
    path = tmp_path / "gpt4o.csv"
    pd.DataFrame({"question": ["a?", "b?"], "correct": [1, 0], "cost": [0.01, 0.02]}).to_csv(
        path, index=False
    )
    store = tmp_path / "s.duckdb"
    out = cli("import", "runs", path, "--model", "openai:gpt-4o", "--store", store, "--name", "one")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "model <-" not in out.stdout and "prompt <- 'question' (guessed)" in out.stdout
    both = cli("import", "runs", path, "--model", "x", "--model-col", "question", "--store", store)
    assert both.returncode != 0 and "not both" in both.stdout + both.stderr
    frame = read_runs(path, columns=Columns(model="openai:gpt-4o"))
    assert set(frame["model"]) == {"openai:gpt-4o"} and frame["cost_usd"].tolist() == [0.01, 0.02]


def test_routerbench_without_responses_can_assume_output_tokens(tmp_path: Path, cli) -> None:
    path = _wide(tmp_path / "rb.csv")
    frame = pd.read_csv(path).drop(
        columns=["big|total_cost", "small|total_cost", "big|model_response", "small|model_response"]
    )
    frame.to_csv(path, index=False)
    prices = tmp_path / "p.yaml"
    prices.write_text("models:\n  big: {input: 10, output: 30}\n  small: {input: 1, output: 2}\n")
    store = tmp_path / "s.duckdb"
    out = cli("import", "routerbench", path, "--price-file", prices, "--store", store)
    assert out.returncode == 0 and "PROMPT-ONLY" in out.stdout  # without the flag: the answers are not priced
    out = cli("import", "routerbench", path, "--price-file", prices, "--assume-output-tokens", "5",
              "--store", store, "--name", "rb5")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ESTIMATED" in out.stdout and "PROMPT-ONLY" not in out.stdout
    runs = read_routerbench(
        path, options=ImportOptions(prices=PriceTable.from_file(prices), assume_output_tokens=5)
    )
    assert (runs["output_tokens"] == 5).all()


def test_router_eval_reads_the_default_store_and_mt_bench_and_small_test_shares(
    tmp_path: Path, cli, monkeypatch
) -> None:
    """`router eval -e X` takes the store as every command does ($LLMBENCH_STORE, else ./llmbench.duckdb);
    `--routellm` reads MT-Bench as the importer does; a 5% test share of 80 prompts in 8 tasks is 4 prompts."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(80):
        words = [
            "add sum",
            "verse rhyme",
            "code loop",
            "city river",
            "cell gene",
            "law court",
            "bond stock",
            "goal team",
        ][i % 8]
        for model, price in (("small", 0.0004), ("big", 0.01)):
            rows.append({"question_id": i, "question": f"{words} {i}", "model": model, "category": f"c{i % 8}",
                         "score": int(rng.integers(1, 11)), "cost": price})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "judged.csv", index=False)
    store = tmp_path / "elsewhere.duckdb"
    assert (
        cli("import", "runs", tmp_path / "judged.csv", "--score-range", "1,10", "--store", store).returncode
        == 0
    )
    monkeypatch.setenv("LLMBENCH_STORE", str(store))
    args = ("router", "eval", "-e", "judged", "--no-track", "--bootstrap", "10")
    out = cli(*args, "--test-size", "0.05")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "76 train / 4 test prompts" in out.stdout, out.stdout
    assert "so it serves the" in out.stdout or "The router serves" in out.stdout  # what it serves, in words
    monkeypatch.delenv("LLMBENCH_STORE")
    missing = cli(*args)
    assert missing.returncode != 0 and "no run store at" in missing.stdout + missing.stderr
    for qid in range(81, 91):  # MT-Bench, in RouteLLM's folder layout
        folder = tmp_path / "rl" / "evals" / "mt_bench"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "judgements.jsonl").open("a") as fh:
            for model in ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"):
                for r in _fastchat_rows(qid, model, qid % 2 == 0):
                    fh.write(json.dumps({**r, "score": int(rng.integers(1, 11))}) + "\n")
    out = cli(
        "router",
        "eval",
        "--routellm",
        tmp_path / "rl",
        "--benchmark",
        "mt_bench",
        "--no-track",
        "--bootstrap",
        "10",
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.shared
def test_a_wide_file_over_the_import_memory_cap_spills_instead_of_failing(
    shared_data: Path, tmp_path: Path, monkeypatch
) -> None:
    """RouterBench's files twice over (distinct ids; 70k long rows, each repeating its prompt) under a 150 MB cap:
    the importer's items insert took each item's first prompt with an ordered aggregate that held every row's
    prompt in memory and ran out (as a 100 MB wide file did under the real 1 GB cap); now it spills."""
    import duckdb

    import llmbench.imports.flow as flow

    monkeypatch.setattr(flow, "IMPORT_MEMORY", "150MB")
    src = shared_data / "routerdc" / "datasets" / "routerbench_zs" / "*.csv.gz"
    path = tmp_path / "rb_x2.csv"
    duckdb.execute(
        f"""COPY (SELECT b.* REPLACE (b.sample_id || '-' || r.range AS sample_id, b.prompt || ' #' || r.range AS prompt)
            FROM read_csv_auto('{src}', union_by_name=true) b, range(2) r) TO '{path}' (HEADER)"""
    )
    with Store.open(tmp_path / "runs.duckdb") as st:
        report = import_file(st, "routerbench", path, name="rb")
        counts = st.sql("SELECT (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM calls) AS calls")
        twice = st.sql("SELECT count(*) AS n FROM items WHERE prompt LIKE '% #1'")
    assert report.rows == counts["calls"][0] == 11 * counts["items"][0] and counts["items"][0] > 6000
    assert twice["n"][0] == counts["items"][0] / 2  # each item keeps its own first prompt
