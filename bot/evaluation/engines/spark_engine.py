"""The Spark engine: the SQL of `bot.evaluation.engines.sql` through `spark.sql`.

It runs on the SparkSession of the environment: the active one (a Databricks or EMR job, a
`spark-submit` driver, a notebook), else whatever `SparkSession.builder.getOrCreate()`
gives, which outside a cluster is a local-mode session in this process. mlgate starts no
cluster. The holdout and the predictions become temporary views of that session: Parquet
files, globs and directories (hive partitions `key=value/` become columns) read by Spark's
own reader, so `s3://`, `abfss://`, `gs://` and `dbfs:/` paths work wherever the session
can read them, or an in-memory pandas frame. The views are dropped afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bot.evaluation import EvaluationError
from bot.evaluation.engines import EngineUnavailable, TableSource
from bot.evaluation.engines.sql import Dialect, Kind, Row, SqlEngine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# pyspark 4 logs every failed query as a long JSON record on these loggers; the error we raise says it in one line
_QUERY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
_READ_ERRORS = ("PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA", "FAILED_READ_FILE", "CANNOT_READ_FILE_FOOTER")
_KINDS: dict[str, Kind] = {
    "BooleanType": "bool", "ByteType": "int", "ShortType": "int", "IntegerType": "int", "LongType": "int",
    "FloatType": "float", "DoubleType": "float", "DecimalType": "float",
    "StringType": "string", "VarcharType": "string", "CharType": "string",
}


def session(memory: str | None = None) -> SparkSession:
    """The environment's SparkSession: the active one, else `builder.getOrCreate()`.

    `memory` sets `spark.driver.memory` only when this call creates the session (local
    mode); an existing session keeps the memory its cluster was given.
    """
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineUnavailable("the spark engine needs pyspark (and Java 17+): pip install 'mlgate[spark]', "
                                "or run mlgate inside a Spark job") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    ours = SparkContext._active_spark_context is None  # else getOrCreate returns the job's session
    # mlgate draws its own progress bar; Spark's console bars would cut through it
    builder = SparkSession.builder.appName("mlgate").config("spark.ui.showConsoleProgress", "false")
    if memory:
        builder = builder.config("spark.driver.memory", jvm_size(memory))
    try:
        created = builder.getOrCreate()
    except Exception as exc:  # pyspark raises a plain PySparkRuntimeError (JAVA_GATEWAY_EXITED) without Java
        raise EngineUnavailable(f"could not start a local Spark session ({_first_line(exc)}); the spark engine "
                                "needs Java 17+ (java on PATH or JAVA_HOME) or an active SparkSession") from None
    if ours:
        created.sparkContext.setLogLevel("ERROR")  # no per-query warnings: errors come back as exceptions
    return created


def jvm_size(size: str) -> str:
    """`4GB`, `4 GiB`, `512MB` (DuckDB's spelling, also --engine-memory's) as the JVM's `4g`, `512m`."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt])(?:i?b)?\s*", size, flags=re.IGNORECASE)
    return f"{m.group(1)}{m.group(2).lower()}" if m else size


class SparkEngine(SqlEngine):
    name = "spark"
    dialect = Dialect("`", backslash_escapes=True)

    def __init__(self, memory: str | None = None, spark: SparkSession | None = None) -> None:
        self.spark = spark if spark is not None else session(memory)
        self._views: list[str] = []

    def register(self, view: str, source: TableSource) -> None:
        with self._call(source.name):
            self._read(source).createOrReplaceTempView(view)
        self._views.append(view)

    def _read(self, source: TableSource) -> DataFrame:
        if source.frame is None:
            delta = [p for p in source.parquet if self._is_delta_table(p)]
            if delta:
                raise EvaluationError(f"{delta[0]} is a Delta table: read as Parquet it would include the files "
                                      "of older versions; evaluate a Parquet snapshot of it "
                                      "(df.write.parquet(...)) instead")
            return self.spark.read.parquet(*source.parquet)
        import pyspark

        if int(pyspark.__version__.split(".")[0]) >= 4:  # Arrow in directly: far faster than from pandas
            import pyarrow as pa

            return self.spark.createDataFrame(pa.Table.from_pandas(source.frame, preserve_index=False))
        return self.spark.createDataFrame(source.frame)

    def _is_delta_table(self, path: str) -> bool:
        """A directory with a `_delta_log`, asked through the session's Hadoop file system (any URL)."""
        if any(ch in path for ch in "*?[{"):
            return False
        try:
            sc = self.spark.sparkContext
            jvm = sc._jvm
            assert jvm is not None
        except Exception:  # Spark Connect: no JVM on this side, so only a local path can be checked
            return "://" not in path and os.path.isdir(os.path.join(path, "_delta_log"))
        log = jvm.org.apache.hadoop.fs.Path(path.rstrip("/") + "/_delta_log")
        return bool(log.getFileSystem(sc._jsc.hadoopConfiguration()).exists(log))

    def register_sql(self, view: str, sql: str) -> None:
        super().register_sql(view, sql)
        self._views.append(view)

    def columns(self, view: str) -> dict[str, Kind]:
        with self._call():
            fields = self.spark.table(view).schema.fields
        return {f.name: _KINDS.get(type(f.dataType).__name__, "other") for f in fields}

    def query(self, sql: str) -> list[Row]:
        with self._call():
            return [tuple(r) for r in self.spark.sql(sql).collect()]

    @contextmanager
    def _call(self, what: str = "") -> Iterator[None]:
        """Spark's exceptions as one-line EvaluationErrors, also for callers outside `compare`
        (the CLI asks for columns and distinct labels first), without pyspark's JSON log."""
        with _quiet():
            try:
                yield
            except Exception as exc:
                err = None if isinstance(exc, EvaluationError) else self.translate(exc)
                if err is None:
                    raise
                raise EvaluationError(f"{what}: {err}" if what else str(err)) from None

    def translate(self, exc: Exception) -> EvaluationError | None:
        from py4j.protocol import Py4JError, Py4JJavaError
        from pyspark.errors import PySparkException

        if isinstance(exc, PySparkException):
            cond = _condition(exc)
            if any(cond.startswith(c) for c in _READ_ERRORS):
                return EvaluationError(f"cannot read the data: {_first_line(exc)}")
            return EvaluationError(f"spark: {_first_line(exc)}")
        if isinstance(exc, Py4JJavaError):
            cause = exc.java_exception
            while cause is not None:
                if cause.getClass().getName() == "java.lang.OutOfMemoryError":
                    return EvaluationError("spark ran out of memory; give the driver or executors more "
                                           "(spark.driver.memory, spark.executor.memory) or use fewer segments")
                cause = cause.getCause()
            java = exc.java_exception
            text = _first_line(java.getMessage() or java.getClass().getName())
            cond = _condition(java)
            if any(cond.startswith(c) for c in _READ_ERRORS):
                return EvaluationError(f"cannot read the data: {text}")
            return EvaluationError(f"spark: {text}")
        if isinstance(exc, Py4JError):
            return EvaluationError(f"spark: the session's JVM stopped answering ({_first_line(exc)})")
        return None

    def close(self) -> None:
        """Drop this evaluation's temporary views; the session stays (it is the environment's)."""
        with _quiet():
            for view in reversed(self._views):
                self.spark.catalog.dropTempView(view)
        self._views.clear()


def _condition(exc: object) -> str:
    """The Spark error class (`PATH_NOT_FOUND`, `FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER`), or ''."""
    for method in ("getCondition", "getErrorClass"):  # Spark 4, Spark 3.5
        get = getattr(exc, method, None)
        if get is not None:
            try:
                value = get()
            except Exception:  # a Java object without the method answers with a Py4JError
                continue
            if value:
                return str(value)
    return ""


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    head, sep, _ = line.partition(" SQLSTATE: ")
    return (head if sep else line).strip()[:300]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence pyspark's per-error JSON logging for our own calls (restored afterwards)."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # pyspark 3.5 has no such loggers
        yield
        return
    loggers = [PySparkLogger.getLogger(n) for n in _QUERY_LOGGERS]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was
