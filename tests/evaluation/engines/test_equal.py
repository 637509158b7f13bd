"""The SQL engines equal the numpy engine to 1e-9 (issue #18): points, deltas, intervals, p-values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.evaluation import EvaluationError
from bot.evaluation.engines import Request, TableSource
from bot.evaluation.metrics import SPECS
from bot.evaluation.tables import compare_table

pytest.importorskip("duckdb")

FIELDS = ("baseline", "candidate", "delta", "ci_low", "ci_high", "se", "p_value")


def assert_same(a: object, b: object) -> None:
    ra, rb = a.to_report(), b.to_report()  # type: ignore[attr-defined]
    assert [(s["column"], s["value"], s["rows"]) for s in ra["segments"]] == \
        [(s["column"], s["value"], s["rows"]) for s in rb["segments"]]
    pairs = [(ra["metrics"], rb["metrics"])] + [(x["metrics"], y["metrics"])
                                                for x, y in zip(ra["segments"], rb["segments"], strict=True)]
    for ma, mb in pairs:
        for sa, sb in zip(ma, mb, strict=True):
            assert sa["name"] == sb["name"] and sa["rows"] == sb["rows"] and sa["method"] == sb["method"]
            for f in FIELDS:
                x, y = sa[f], sb[f]
                assert (x is None) == (y is None), (sa["name"], f, x, y)
                if x is not None:
                    assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (sa["name"], f, x, y)


def frame(task: str, n: int, seed: int, ties: bool = False, k: int = 3) -> tuple[pd.DataFrame, Request]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "region": np.array(["north", "south", "east", None], dtype=object)[rng.integers(0, 4, n)],
        "tenure": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 80, n).astype(float)),
        "plan": rng.integers(0, 4, n),
    })
    segs = ("region", {"column": "tenure", "bins": [0, 6, 24, 60]}, {"cross": ["region", "plan"]})
    if task == "binary":
        y = (rng.random(n) < 0.35).astype(int)
        c = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
        b = np.clip(0.25 * y + rng.random(n) * 0.75, 0, 1)
        if ties:
            c, b = np.round(c, 1), np.round(b, 2)
        df["label"], df["cand"], df["base"] = y, c, b
        cand: tuple[str, ...] = ("cand",)
        base: tuple[str, ...] = ("base",)
    elif task == "multiclass":
        y = rng.integers(0, k, n)
        for who in ("c", "b"):
            p = rng.dirichlet(np.ones(k), n) + np.eye(k)[y] * 0.5
            p = p / p.sum(axis=1, keepdims=True)
            if ties:
                p = np.round(p, 1)
                p[:, -1] = 1 - p[:, :-1].sum(axis=1)
                p = np.clip(p, 0, 1)
            for i in range(k):
                df[f"{who}:{i}"] = p[:, i]
        df["label"] = y
        cand, base = tuple(f"c:{i}" for i in range(k)), tuple(f"b:{i}" for i in range(k))
    else:
        y = rng.normal(size=n)
        df["label"] = np.round(y, 1) if ties else y
        df["cand"] = y + rng.normal(scale=0.5, size=n)
        df["base"] = y + rng.normal(scale=0.6, size=n)
        cand, base = ("cand",), ("base",)
    req = Request(task=task, label="label", candidate=cand, baseline=base, metrics=tuple(SPECS[task]),
                  segments=segs)  # type: ignore[arg-type]
    return df, req


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("n,ties", [(40, False), (700, True), (3000, False)])
def test_duckdb_equals_numpy(task: str, n: int, ties: bool) -> None:
    df, req = frame(task, n, seed=n, ties=ties)
    src = TableSource.of_frame(df)
    assert_same(compare_table(src, req, "duckdb"), compare_table(src, req, "numpy"))


@pytest.mark.parametrize("n,ties", [(60, True), (2500, False), (2500, True)])
def test_portable_window_sql_equals_numpy(n: int, ties: bool) -> None:
    """The window-function SQL that the Spark engine runs, here on DuckDB (stream_ranks off)."""
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine

    df, req = frame("binary", n, seed=n + 1, ties=ties)
    src = TableSource.of_frame(df)
    engine = DuckDBEngine()
    engine.stream_ranks = False
    assert_same(engine.compare(src, req), compare_table(src, req, "numpy"))


def test_streamed_sort_carries_groups_and_ties_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks far smaller than a group, with tie blocks that straddle chunk boundaries."""
    from bot.evaluation.engines import duckdb_engine

    monkeypatch.setattr(duckdb_engine, "CHUNK_ROWS", 64)
    df, req = frame("binary", 3000, seed=11, ties=True)
    src = TableSource.of_frame(df)
    assert_same(compare_table(src, req, "duckdb"), compare_table(src, req, "numpy"))


def test_tie_blocks_longer_than_a_tile_and_a_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled pass works in tiles of rank_kernel.TILE rows that never split a tie block:
    here the candidate has three scores only (blocks of ~14k rows each in the whole holdout,
    several thousand in each segment) and DuckDB's batches are smaller than a block."""
    from bot.evaluation.engines import duckdb_engine, rank_kernel

    monkeypatch.setattr(duckdb_engine, "CHUNK_ROWS", 5000)
    n = 2 * rank_kernel.TILE + 9000
    df, req = frame("binary", n, seed=8)
    df["cand"] = np.round(df["cand"] * 2) / 2
    assert df["cand"].value_counts().max() > rank_kernel.TILE
    src = TableSource.of_frame(df)
    assert_same(compare_table(src, req, "duckdb"), compare_table(src, req, "numpy"))


def test_one_sort_serves_segments_with_one_class_or_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments whose AUC/AP are undefined (all positive, all negative, a single row) next to
    ordinary ones, all split from the same global score order, chunks smaller than a segment."""
    from bot.evaluation.engines import duckdb_engine

    monkeypatch.setattr(duckdb_engine, "CHUNK_ROWS", 50)
    df, req = frame("binary", 1200, seed=5, ties=True)
    df["odd"] = np.where(df["label"] == 1, "pos", "neg")
    df.loc[df.index[:300], "odd"] = "mixed"
    df.loc[df.index[300], "odd"] = "single"
    req = Request(task="binary", label="label", candidate=("cand",), baseline=("base",), metrics=req.metrics,
                  segments=("odd", "region"))
    src = TableSource.of_frame(df)
    assert_same(compare_table(src, req, "duckdb"), compare_table(src, req, "numpy"))


def test_streamed_ranks_hand_their_memory_back_to_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first model's per-row values are taken from DuckDB's memory limit during the sorts
    (from the moment they are allocated, after the first sort is built) and the limit is
    restored afterwards."""
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine, _bytes, _RankAcc

    assert _bytes("3.7 GiB") == int(3.7 * 2**30) and _bytes("512 MB") == 512 * 10**6 and _bytes("?") == 0
    engine = DuckDBEngine(memory="1GB")
    setting = "SELECT current_setting('memory_limit')"
    before = engine.query(setting)
    at_keep: list[object] = []
    keep = _RankAcc.keep

    def spy(self: _RankAcc, n: int) -> None:
        at_keep.append(engine.con.cursor().execute(setting).fetchall())
        keep(self, n)

    monkeypatch.setattr(_RankAcc, "keep", spy)
    df, req = frame("binary", 3000, seed=2)  # 4 partitions x 12 bytes x 3000 rows: 0.14 MB kept
    src = TableSource.of_frame(df)
    assert_same(engine.compare(src, req), compare_table(src, req, "numpy"))
    assert at_keep and all(_bytes(str(s[0][0])) < _bytes(str(before[0][0])) for s in at_keep)  # type: ignore[index]
    assert engine.query(setting) == before


def test_without_baseline_and_from_parquet(tmp_path: object) -> None:
    df, req = frame("binary", 500, seed=3, ties=True)
    path = f"{tmp_path}/h.parquet"
    df.to_parquet(path)
    req = Request(task="binary", label="label", candidate=("cand",), baseline=None, metrics=req.metrics,
                  segments=req.segments)
    assert_same(compare_table(TableSource.of_parquet(path), req, "duckdb"),
                compare_table(TableSource.of_frame(pd.read_parquet(path)), req, "numpy"))


def test_missing_label_is_one_line_error() -> None:
    df, req = frame("binary", 50, seed=1)
    df.loc[3, "label"] = None
    with pytest.raises(EvaluationError, match="missing value"):
        compare_table(TableSource.of_frame(df), req, "duckdb")


def test_hive_directory_and_int_column_with_nulls(tmp_path: object) -> None:
    """A partitioned directory read by DuckDB; an integer segment column with nulls is labelled as
    pandas labels it (a float column: "1.0"), so both engines report the same segments."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df, req = frame("binary", 1200, seed=5, ties=True)
    plan = pa.array([None if i % 17 == 0 else int(v) for i, v in enumerate(df["plan"])], type=pa.int64())
    table = pa.Table.from_pandas(df.drop(columns=["plan"]), preserve_index=False).append_column("plan", plan)
    root = f"{tmp_path}/holdout"
    for part in ("a", "b"):
        half = table.slice(0, 600) if part == "a" else table.slice(600)
        Path(f"{root}/batch={part}").mkdir(parents=True)
        pq.write_table(half, f"{root}/batch={part}/data.parquet")
    req = Request(task="binary", label="label", candidate=("cand",), baseline=("base",), metrics=req.metrics,
                  segments=("plan", "region"))
    expected = compare_table(TableSource.of_frame(table.to_pandas()), req, "numpy")
    got = compare_table(TableSource.of_parquet(root), req, "duckdb")
    assert_same(got, expected)
    assert "1.0" in [v for c, v, _, _ in got.segments if c == "plan"]


def test_progress_moves_within_long_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed sort reports progress per batch, not only per segment column."""
    from bot.evaluation.engines import duckdb_engine

    monkeypatch.setattr(duckdb_engine, "CHUNK_ROWS", 256)
    df, req = frame("binary", 3000, seed=2)
    seen: list[float] = []
    compare_table(TableSource.of_frame(df), req, "duckdb", progress=lambda what, f: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0
    steps = len(req.segments) + 1
    assert len({f for f in seen if 0 < f < 1 / steps}) > 3  # inside the first segment column's scan


def test_out_of_memory_is_one_line() -> None:
    df, req = frame("binary", 20000, seed=4)
    with pytest.raises(EvaluationError, match=r"^duckdb ran out of memory .*raise --engine-memory") as info:
        compare_table(TableSource.of_frame(df), req, "duckdb", memory="2MB")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("package", ["duckdb", "numba"])
def test_missing_duckdb_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """The engine needs duckdb and numba (its compiled rank pass): both come with the extra."""
    import builtins

    from bot.evaluation.engines import EngineUnavailable

    real = builtins.__import__

    def missing(name: str, *args: object, **kwargs: object) -> object:
        if name == package:
            raise ImportError(f"No module named '{package}'", name=package)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", missing)
    df, req = frame("binary", 50, seed=4)
    with pytest.raises(EngineUnavailable, match=rf"needs the {package} package: pip install 'mlgate\[duckdb\]'"):
        compare_table(TableSource.of_frame(df), req, "duckdb")
