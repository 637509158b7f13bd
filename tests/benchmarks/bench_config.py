"""Benchmark: what a hostile `.github/mlgate.yml` costs, against the example config, same run.

    .venv/bin/python tests/benchmarks/bench_config.py [--repeat 20]

Every case goes through `bot.config.parse_config`, the function a worker calls on the base
branch's file. The anchor is the example policy (tests/fixtures/reports/mlgate.yml, about
600 bytes), which must load; every hostile case must be refused with a ConfigError. The
figure is the median wall time of `--repeat` calls and its ratio to the anchor's. The
target: every hostile case under 100 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import MAX_CONFIG_BYTES, ConfigError, parse_config  # noqa: E402

NAME = ".github/mlgate.yml"


def alias_bomb(levels: int) -> str:
    """Nine aliases per level: `levels` 9 gives 9**9 (387 million) leaves in a few hundred bytes."""
    lines = ["version: 1", "models:", '  - name: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"    k{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def under_limit(text: str) -> str:
    assert len(text.encode()) <= MAX_CONFIG_BYTES, len(text)
    return text


def cases() -> dict[str, str]:
    half = (MAX_CONFIG_BYTES - 32) // 2
    keys: list[str] = []
    while sum(map(len, keys)) < MAX_CONFIG_BYTES - 1024:
        keys.append(f"key{len(keys)}: {len(keys)}\n")
    example = (ROOT / "tests" / "fixtures" / "reports" / "mlgate.yml").read_text()
    return {
        "example config (anchor)": example,
        "alias bomb, 9 levels": alias_bomb(9),
        "64 KiB of nested flow lists": under_limit("version: 1\nx: " + "[" * half + "]" * half + "\n"),
        "64 KiB of nested block mappings": under_limit(
            "version: 1\n" + "".join(" " * i + "k:\n" for i in range(350))[: MAX_CONFIG_BYTES - 100]),
        "64 KiB of unknown keys (over the node limit)": under_limit(example + "".join(keys)[: MAX_CONFIG_BYTES - len(example) - 64]),
        "950 long unknown keys (under the node limit)": under_limit(
            example + "".join(f"an_unknown_key_number_{i:04d}: {i}\n" for i in range(950))),
        "1 MiB file (the Contents API's limit)": example + "#" * (1 << 20) + "\n",
    }


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    results: list[tuple[str, int, float, str]] = []
    for label, text in cases().items():
        outcome = "loads"
        try:
            parse_config(text, NAME)
        except ConfigError as exc:
            outcome = str(exc).splitlines()[0][len(NAME) + 1:][:70]

        def run(text: str = text) -> None:
            with contextlib.suppress(ConfigError):
                parse_config(text, NAME)

        results.append((label, len(text.encode()), timed(run, args.repeat), outcome))
    anchor = results[0][2]
    print("| case | bytes | median | / example | outcome |\n|---|---:|---:|---:|---|")
    for label, size, secs, outcome in results:
        print(f"| {label} | {size:,} | {secs * 1000:.2f} ms | {secs / anchor:.1f}× | {outcome} |")
    worst = max(secs for _, _, secs, _ in results[1:])
    print(f"\nworst hostile case: {worst * 1000:.1f} ms (target < 100 ms: {'met' if worst < 0.1 else 'NOT met'})")
    assert results[0][3] == "loads", results[0]
    assert all(r[3] != "loads" for r in results[1:]), results


if __name__ == "__main__":
    main()
