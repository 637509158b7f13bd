"""--predictions may be a URL the SQL engines read themselves; it must reach them unchanged
(a pathlib.Path folds `s3://bucket/x` into `s3:/bucket/x`)."""

from __future__ import annotations

import argparse

import pytest

from bot.cli_evaluate import _basename, _is_remote, configure, options_from_args


@pytest.mark.parametrize("url", ["s3://bucket/scores/day=1/", "gs://b/p/*.parquet", "https://h/x.parquet",
                                 "dbfs:/mnt/scores"])
def test_a_predictions_url_reaches_the_engine_unchanged(url: str) -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    opts = options_from_args(parser.parse_args(["--predictions", url, "--engine", "duckdb", "--id", "rid",
                                                "--out", "report.json"]))
    assert opts.predictions == url
    assert _is_remote(url)


def test_the_name_in_the_report_is_the_last_part() -> None:
    assert _basename("s3://bucket/scores/day=1/") == "day=1"
    assert _basename("preds/scores.parquet") == "scores.parquet"
