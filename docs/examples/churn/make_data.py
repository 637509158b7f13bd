"""Deterministic synthetic churn data: train, holdout and a drift reference.

Churn depends on tenure, monthly charges and the months left on the contract everywhere,
and, in APAC only, strongly on the number of support calls. A model without
`support_calls` looks fine overall and fails APAC customers: the demo's regression.
Support calls also predict churn for new customers who pay by invoice (`payment_method =
invoice and tenure_months < 28`, about 8% of the rows): a regression that no configured
segment shows and that slice discovery finds.

    python make_data.py OUT_DIR [--seed 0] [--rows 20000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = ["EU", "NA", "APAC", "LATAM"]
PLANS = ["basic", "pro", "enterprise"]
PAYMENTS = ["card", "bank_transfer", "invoice"]


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, n, p=[0.35, 0.3, 0.25, 0.1])
    plan = rng.choice(PLANS, n, p=[0.5, 0.35, 0.15])
    tenure = rng.integers(0, 72, n)
    charges = np.round(rng.normal(70, 20, n).clip(15, 150), 2)
    contract_left = rng.integers(0, 25, n)
    support_calls = rng.poisson(1.5, n)
    # its own generator, so every other column and APAC's story stay as they were
    payment = np.random.default_rng([seed, 1]).choice(PAYMENTS, n, p=[0.5, 0.3, 0.2])
    apac = region == "APAC"
    new_on_invoice = (payment == "invoice") & (tenure < 28)
    logit = (
        2.4
        - 0.03 * tenure
        + 0.02 * (charges - 70)
        - 1.6 * (contract_left / 12)
        + np.where(apac | new_on_invoice, 1.6 * (support_calls - 1.5), 0.0)
        + np.select([plan == "basic", plan == "pro"], [0.3, 0.0], -0.4)
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "customer_id": [f"C{seed:02d}{i:07d}" for i in range(n)],
        "region": region,
        "plan": plan,
        "payment_method": payment,
        "tenure_months": tenure,
        "monthly_charges": charges,
        "contract_months_left": contract_left,
        "support_calls": support_calls,
        "churned": churned,
    })


def write(out: Path, seed: int = 0, rows: int = 20000) -> None:
    (out / "data").mkdir(parents=True, exist_ok=True)
    make_frame(rows, seed).to_parquet(out / "data" / "train.parquet", index=False)
    make_frame(rows // 2, seed + 1).to_parquet(out / "data" / "holdout.parquet", index=False)
    make_frame(rows // 2, seed + 2).drop(columns=["churned"]).to_parquet(out / "data" / "reference.parquet", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    write(args.out, args.seed, args.rows)


if __name__ == "__main__":
    main()
