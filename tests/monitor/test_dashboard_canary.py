"""The dashboard's models table shows a running canary's traffic share, and not a cleared one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot import promotion
from tests.app.test_dashboard import BEARER, TOKEN, _app, _release, _seed


def test_home_shows_the_canary_share_until_it_is_cleared(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    canary = dataclasses.replace(_release("promote", "dave", alias="challenger"), canary=0.1)
    promotion.audit(store, canary, promotion.A_PROMOTE, promotion.R_SUCCESS, from_version=None, to_version="6")
    html = app.test_client().get("/dashboard", headers=BEARER).get_data(as_text=True)
    row = next(r for r in html.split("<tr>") if "<td>challenger" in r)
    assert "(canary, 10% of traffic)" in row and "<td>6</td>" in row
    cleared = dataclasses.replace(_release("rollback", "erin", alias="challenger"), canary=0.0)
    promotion.audit(store, cleared, promotion.A_ROLLBACK, promotion.R_SUCCESS, from_version="6", to_version=None)
    html = app.test_client().get("/dashboard", headers=BEARER).get_data(as_text=True)
    row = next(r for r in html.split("<tr>") if "<td>challenger" in r)
    assert "canary," not in row and "<td>–</td>" in row
