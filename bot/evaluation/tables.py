"""The paired comparison on a table source, through the engine the user chose (issue #18).

Kept out of `bot.evaluation` and `bot.evaluation.engines` so that neither imports the engines
that import them: the engines depend on the package, and only this module picks among them.
"""

from __future__ import annotations

from bot.evaluation import ComparisonResult
from bot.evaluation.engines import (
    ENGINES,
    Engine,
    EngineUnavailable,
    Progress,
    Request,
    TableSource,
)


def get_engine(name: str, memory: str | None = None) -> Engine:
    """The engine called `name` (numpy, duckdb; spark when its module is installed), ready to `compare`.

    Raises `EngineUnavailable` (one line: what to install) when the engine cannot run here.
    """
    if name == "numpy":
        from bot.evaluation.engines.numpy_engine import NumpyEngine

        return NumpyEngine()
    if name == "duckdb":
        from bot.evaluation.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(memory=memory)
    if name == "spark":
        from bot.evaluation.engines.spark_engine import (
            SparkEngine,  # pyspark itself is imported on use
        )

        return SparkEngine(memory=memory)
    raise EngineUnavailable(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")


def compare_table(holdout: TableSource, request: Request, engine: str = "numpy", memory: str | None = None,
                  progress: Progress | None = None) -> ComparisonResult:
    """`compare_models` on a table source through the named engine."""
    eng = get_engine(engine, memory)
    try:
        return eng.compare(holdout, request, progress)
    finally:
        eng.close()
