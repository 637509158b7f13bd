"""Bin edges and slice bounds read as a person writes them: 1,234,567, never 1.2e+06 (#14 item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.numbers import edge


@pytest.mark.parametrize(("x", "text"), [
    (1_234_567.0, "1,234,567"), (1e6, "1,000,000"), (159_312.0, "159,312"), (160_000.0, "160,000"),
    (0.0125, "0.0125"), (12.5, "12.5"), (12.0, "12"), (-3.0, "-3"), (0.0, "0"), (-0.0, "0"),
    (1e-7, "0.0000001"), (2.5e-5, "0.000025"), (0.1 + 0.2, "0.3"), (-1234.25, "-1,234.25"),
    (1e20, "100,000,000,000,000,000,000"), (float("inf"), "inf"), (float("-inf"), "-inf"),
])
def test_edge(x: float, text: str) -> None:
    assert edge(x) == text
    assert "e+" not in edge(x) and "e-" not in edge(x)


def test_discovered_bounds_have_separators_and_no_exponent() -> None:
    """Before: quantiles 159,312 and 1,234,567 became 'income < 160000' and 'income ≥ 1.2e+06'."""
    from bot.evaluation.discovery import numeric_edges, numeric_feature

    edges = numeric_edges([159_312.0, 1_234_567.0], 0.0, 5e6)
    assert list(edges) == [160_000.0, 1_200_000.0]
    feature = numeric_feature("income", edges, np.zeros(3, dtype=np.int32))
    texts = [p.text for p in feature.predicates]
    assert "income < 160,000" in texts and "income ≥ 1,200,000" in texts
    assert "160,000 ≤ income < 1,200,000" in texts
    assert not any("e+" in t for t in texts)
