"""A local runner for composite actions: runs `run:` steps in order, as GitHub's runner does.

It evaluates the `${{ }}` expressions the action uses (inputs, github, runner, steps, env,
always()/success()/failure(), ==, !=, &&, ||, !), gives each `run:` step a real runner
environment (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH, GITHUB_API_URL, ...),
and stands in for third-party `uses:` steps; `Result.stood_in` says which.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Third-party actions the harness stands in for, and what it does instead.
STAND_INS = {
    "actions/setup-python": "puts the test interpreter's bin directory on PATH",
    "actions/cache": "does nothing (a cache miss)",
    "actions/upload-artifact": "zips the path into the harness's artifact store, as GitHub does",
    "actions/download-artifact": "copies the directory given in Harness.downloads under that artifact name into "
                                 "the path, after checking that it asks for the run in `run-id`",
}


@dataclass
class StepRecord:
    id: str | None
    name: str
    ran: bool
    outcome: str  # success | failure | skipped
    stdout: str = ""
    stderr: str = ""


@dataclass
class Result:
    outputs: dict[str, str]
    steps: list[StepRecord]
    summary: str
    artifacts: dict[str, bytes]
    stood_in: list[str]
    failed: bool = False

    @property
    def log(self) -> str:
        return "\n".join(s.stdout + s.stderr for s in self.steps)


@dataclass
class Harness:
    action_dir: Path
    workspace: Path
    event_name: str
    event: dict[str, Any]
    repository: str
    api_url: str = "https://api.github.com"
    env: dict[str, str] = field(default_factory=dict)
    bin_dir: Path | None = None
    downloads: dict[str, Path] = field(default_factory=dict)  # artifact name -> directory of the other run
    downloaded: list[dict[str, str]] = field(default_factory=list)  # the `with:` of each download-artifact step

    def run(self, inputs: dict[str, str]) -> Result:
        spec = yaml.safe_load((self.action_dir / "action.yml").read_text())
        assert spec["runs"]["using"] == "composite"
        temp = self.workspace.parent / "runner-temp"
        temp.mkdir(exist_ok=True)
        event_path = temp / "event.json"
        import json

        event_path.write_text(json.dumps(self.event))
        summary_path = temp / "step_summary.md"
        summary_path.write_text("")
        pr = self.event.get("pull_request") or {}
        ctx_inputs = {k: str(v.get("default", "")) for k, v in (spec.get("inputs") or {}).items()}
        unknown = set(inputs) - set(ctx_inputs)
        assert not unknown, f"inputs not declared by the action: {unknown}"
        ctx_inputs.update(inputs)
        github = {
            "action_path": str(self.action_dir),
            "workspace": str(self.workspace),
            "repository": self.repository,
            "event_name": self.event_name,
            "event_path": str(event_path),
            "api_url": self.api_url,
            "sha": (pr.get("head") or {}).get("sha", "0" * 40),
            "event": self.event,
            "token": "harness-workflow-token",
        }
        ctx: dict[str, Any] = {
            "inputs": ctx_inputs,
            "github": github,
            "runner": {"temp": str(temp), "os": "Linux"},
            "steps": {},
            "env": dict(self.env),
        }
        path_prefix: list[str] = []
        base_env = {
            **os.environ,
            **self.env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_API_URL": self.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_SHA": github["sha"],
            "GITHUB_RUN_ID": "4242",
            "GITHUB_STEP_SUMMARY": str(summary_path),
            "RUNNER_TEMP": str(temp),
            "RUNNER_OS": "Linux",
        }
        records: list[StepRecord] = []
        artifacts: dict[str, bytes] = {}
        stood_in: list[str] = []
        failed = False
        for i, step in enumerate(spec["runs"]["steps"]):
            name = step.get("name") or step.get("uses") or f"step {i}"
            cond = step.get("if")
            status = {"failed": failed}
            go = _truthy(evaluate(cond, ctx, status)) if cond else not failed
            if not go:
                records.append(StepRecord(step.get("id"), name, False, "skipped"))
                if step.get("id"):
                    ctx["steps"][step["id"]] = {"outputs": {}, "outcome": "skipped"}
                continue
            with_ = {k: interpolate(str(v), ctx, status) for k, v in (step.get("with") or {}).items()}
            if "uses" in step:
                action = step["uses"].split("@")[0]
                assert action in STAND_INS, f"no stand-in for {step['uses']}"
                stood_in.append(step["uses"])
                if action == "actions/setup-python" and self.bin_dir:
                    path_prefix.insert(0, str(self.bin_dir))
                if action == "actions/download-artifact":
                    import shutil

                    self.downloaded.append(with_)
                    src = self.downloads.get(with_["name"])
                    if src is None:
                        failed = True
                        records.append(StepRecord(step.get("id"), name, True, "failure",
                                                  stderr=f"Unable to download artifact(s): {with_['name']}"))
                        continue
                    shutil.copytree(src, with_["path"], dirs_exist_ok=True)
                if action == "actions/upload-artifact":
                    src = Path(with_["path"])
                    if not src.exists():
                        failed = True
                        records.append(StepRecord(step.get("id"), name, True, "failure", stderr=f"no files at {src}"))
                        continue
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                        zf.write(src, src.name)
                    artifacts[with_["name"]] = buf.getvalue()
                records.append(StepRecord(step.get("id"), name, True, "success"))
                continue
            output_path = temp / f"output_{i}"
            output_path.write_text("")
            env = {
                **base_env,
                **{k: interpolate(str(v), ctx, status) for k, v in (step.get("env") or {}).items()},
                "GITHUB_OUTPUT": str(output_path),
                "PATH": os.pathsep.join([*path_prefix, base_env.get("PATH", "")]),
            }
            script = interpolate(step["run"], ctx, status)
            shell = step.get("shell")
            assert shell == "bash", f"composite run steps need shell: bash ({name})"
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            outcome = "success" if proc.returncode == 0 else "failure"
            failed = failed or proc.returncode != 0
            records.append(StepRecord(step.get("id"), name, True, outcome, proc.stdout, proc.stderr))
            if step.get("id"):
                ctx["steps"][step["id"]] = {"outputs": parse_output_file(output_path.read_text()), "outcome": outcome}
        outputs = {
            k: interpolate(str(v["value"]), ctx, {"failed": failed}) for k, v in (spec.get("outputs") or {}).items()
        }
        return Result(outputs, records, summary_path.read_text(), artifacts, stood_in, failed)


def parse_output_file(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT format: `name=value` lines and `name<<DELIM` heredocs."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            i += 1
            while lines[i] != delim:
                body.append(lines[i])
                i += 1
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def interpolate(text: str, ctx: dict[str, Any], status: dict[str, bool]) -> str:
    return _EXPR.sub(lambda m: _to_str(evaluate(m.group(1), ctx, status)), text)


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _truthy(v: Any) -> bool:
    return bool(v) and v != "false" if isinstance(v, str) else bool(v)


_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|,|'(?:[^']|'')*'|[A-Za-z_][\w.\-*]*|\d+(?:\.\d+)?)")


def evaluate(expr: str, ctx: dict[str, Any], status: dict[str, bool]) -> Any:
    """Evaluate the subset of GitHub's expression language that actions use."""
    expr = expr.strip()
    m = _EXPR.fullmatch(expr)
    if m:
        expr = m.group(1)
    tokens = []
    pos = 0
    while pos < len(expr):
        tm = _TOKEN.match(expr, pos)
        assert tm, f"cannot parse expression at {expr[pos:]!r}"
        tokens.append(tm.group(1))
        pos = tm.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    value, rest = _or(tokens, ctx, status)
    assert not rest, f"trailing tokens {rest}"
    return value


def _or(t: list[str], c: dict[str, Any], s: dict[str, bool]) -> tuple[Any, list[str]]:
    left, t = _and(t, c, s)
    while t and t[0] == "||":
        right, t = _and(t[1:], c, s)
        left = left if _truthy(left) else right
    return left, t


def _and(t: list[str], c: dict[str, Any], s: dict[str, bool]) -> tuple[Any, list[str]]:
    left, t = _cmp(t, c, s)
    while t and t[0] == "&&":
        right, t = _cmp(t[1:], c, s)
        left = right if _truthy(left) else left
    return left, t


def _cmp(t: list[str], c: dict[str, Any], s: dict[str, bool]) -> tuple[Any, list[str]]:
    left, t = _unary(t, c, s)
    while t and t[0] in ("==", "!="):
        op = t[0]
        right, t = _unary(t[1:], c, s)
        eq = _to_str(left).lower() == _to_str(right).lower()
        left = eq if op == "==" else not eq
    return left, t


def _unary(t: list[str], c: dict[str, Any], s: dict[str, bool]) -> tuple[Any, list[str]]:
    if t[0] == "!":
        v, rest = _unary(t[1:], c, s)
        return not _truthy(v), rest
    if t[0] == "(":
        v, rest = _or(t[1:], c, s)
        assert rest[0] == ")"
        return v, rest[1:]
    tok = t[0]
    if tok.startswith("'"):
        return tok[1:-1].replace("''", "'"), t[1:]
    if re.fullmatch(r"\d+(\.\d+)?", tok):
        return float(tok), t[1:]
    if tok in ("true", "false"):
        return tok == "true", t[1:]
    if len(t) > 1 and t[1] == "(":
        args: list[Any] = []
        rest = t[2:]
        while rest[0] != ")":
            v, rest = _or(rest, c, s)
            args.append(v)
            if rest[0] == ",":
                rest = rest[1:]
        fn = tok
        if fn == "always":
            return True, rest[1:]
        if fn == "success":
            return not s["failed"], rest[1:]
        if fn == "failure":
            return s["failed"], rest[1:]
        if fn == "hashFiles":
            return "harness-hash", rest[1:]
        raise AssertionError(f"function {fn} is not supported by the harness")
    node: Any = c
    for part in tok.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node, t[1:]
