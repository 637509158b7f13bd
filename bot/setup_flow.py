"""`mlgate setup`: one-click creation of the GitHub App from its manifest (GitHub's manifest flow).

1. A local page (on loopback) holds a form with docs/app-manifest.json, its webhook URL and a
   redirect back to this page; the user presses the button and GitHub shows the App to confirm.
2. GitHub redirects to /callback with a one-time `code` and the `state` this run chose (anything
   else is refused: another site cannot plant its App on you).
3. POST /app-manifests/{code}/conversions turns the code into the App: its id, private key and
   webhook secret. They are written to files only the owner can read (0600, in a 0700
   directory, never over an existing file) and never printed.
4. The terminal shows how to start `gunicorn 'bot.app:create_app()'` and `mlgate worker` with them.

GitHub Enterprise Server: `--github-url https://ghes.example.com` (its API is /api/v3 there).
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bot.errors import MlgateError

MANIFEST = Path(__file__).resolve().parents[1] / "docs" / "app-manifest.json"
MAX_ANSWER = 1_000_000  # bytes of the conversion's answer read at most
ENV_FILE, KEY_FILE, SECRET_FILE = "mlgate.env", "private-key.pem", "webhook-secret"


class SetupError(MlgateError, RuntimeError):
    """The App could not be set up; the message says what to do."""


@dataclass(frozen=True)
class CreatedApp:
    app_id: int
    slug: str
    name: str
    html_url: str
    pem: str
    webhook_secret: str


def api_url_for(github_url: str) -> str:
    """GitHub's API for a web URL: api.github.com for github.com, <host>/api/v3 for Enterprise Server."""
    web = github_url.rstrip("/")
    return "https://api.github.com" if web in ("https://github.com", "http://github.com") else f"{web}/api/v3"


def manifest_for(base: dict[str, Any], *, webhook_url: str, redirect_url: str, name: str | None) -> dict[str, Any]:
    out = dict(base)
    out["hook_attributes"] = {**(base.get("hook_attributes") or {}), "url": webhook_url, "active": True}
    out["redirect_url"] = redirect_url
    if name:
        out["name"] = name
    return out


def convert(api_url: str, code: str, timeout: float = 30) -> CreatedApp:
    """Exchange the manifest flow's code for the App (no auth: the one-time code is the credential)."""
    import requests

    if not code or len(code) > 100 or not code.replace("-", "").replace("_", "").isalnum():
        raise SetupError("GitHub sent back no valid code; run `mlgate setup` again")
    url = f"{api_url.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    try:
        resp = requests.post(url, headers={"Accept": "application/vnd.github+json",
                                           "X-GitHub-Api-Version": "2022-11-28"}, timeout=timeout, stream=True)
        body = resp.raw.read(MAX_ANSWER + 1, decode_content=True)
    except requests.RequestException as exc:
        raise SetupError(f"could not reach {api_url} to create the App ({type(exc).__name__}); check "
                         "--github-url/--api-url and try again") from None
    if resp.status_code != 201:
        raise SetupError(f"GitHub answered {resp.status_code} to the App's creation (a code works once and "
                         "expires after an hour); run `mlgate setup` again")
    if len(body) > MAX_ANSWER:
        raise SetupError("GitHub's answer is larger than expected; nothing was saved")
    try:
        data = json.loads(body)
        return CreatedApp(int(data["id"]), str(data["slug"]), str(data.get("name") or data["slug"]),
                          str(data.get("html_url") or ""), str(data["pem"]), str(data["webhook_secret"]))
    except (ValueError, KeyError, TypeError):
        raise SetupError("GitHub's answer lacks the App's id, key or webhook secret; nothing was saved") from None


def write_credentials(out_dir: Path, app: CreatedApp, api_url: str, public_url: str) -> dict[str, Path]:
    """The key, the secret and an env file, each 0600 in a 0700 directory; never over an existing file."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in (KEY_FILE, SECRET_FILE, ENV_FILE)}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise SetupError(f"{', '.join(existing)} already exist; choose another --out directory (nothing "
                         "was overwritten, and the new App's key is not saved: delete that App on GitHub)")
    env = {"MLGATE_APP_ID": str(app.app_id), "MLGATE_PRIVATE_KEY_PATH": str(paths[KEY_FILE].resolve()),
           "MLGATE_WEBHOOK_SECRET": app.webhook_secret, "MLGATE_GITHUB_API_URL": api_url,
           "MLGATE_PUBLIC_URL": public_url}
    texts = {KEY_FILE: app.pem, SECRET_FILE: app.webhook_secret + "\n",
             ENV_FILE: "".join(f"{k}={v}\n" for k, v in env.items())}
    for name, path in paths.items():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(texts[name])
    return paths


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhook-url", required=True,
                        help="the public URL GitHub sends webhooks to, e.g. https://mlgate.example.com/webhook")
    parser.add_argument("--github-url", default="https://github.com",
                        help="GitHub's web URL (GitHub Enterprise Server: https://HOST)")
    parser.add_argument("--api-url", default=None, help="GitHub's API URL (default: from --github-url)")
    parser.add_argument("--org", default=None, help="create the App for this organization (default: your account)")
    parser.add_argument("--name", default=None, help="the App's name (default: the manifest's)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="the App manifest (docs/app-manifest.json)")
    parser.add_argument("--out", type=Path, default=Path("mlgate-app"), help="directory for the credentials")
    parser.add_argument("--port", type=int, default=8765, help="local port of the setup page (loopback only)")


def run(args: argparse.Namespace) -> int:
    from flask import Flask, request
    from werkzeug.serving import make_server

    from bot.render.text import environment

    github_url = str(args.github_url).rstrip("/")
    api_url = (args.api_url or api_url_for(github_url)).rstrip("/")
    try:
        base = json.loads(Path(args.manifest).read_text())
    except (OSError, ValueError) as exc:
        print(f"mlgate setup: cannot read the manifest {args.manifest}: {exc}")
        return 2
    state = secrets.token_urlsafe(24)
    local = f"http://127.0.0.1:{args.port}"
    webhook_url = str(args.webhook_url)
    public_url = webhook_url.removesuffix("/webhook")
    manifest = manifest_for(base, webhook_url=webhook_url, redirect_url=f"{local}/callback", name=args.name)
    where = f"/organizations/{quote(args.org, safe='')}/settings/apps/new" if args.org else "/settings/apps/new"
    action = f"{github_url}{where}?{urlencode({'state': state})}"
    env = environment()  # the one Jinja environment: *.html.j2 pages are autoescaped
    result: dict[str, Any] = {}
    done = threading.Event()
    app = Flask("mlgate-setup")

    @app.get("/")
    def start() -> str:
        return env.get_template("setup/start.html.j2").render(
            action=action, manifest=json.dumps(manifest), github_url=github_url, org=args.org,
            out_dir=str(args.out), webhook_url=webhook_url)

    @app.get("/callback")
    def callback() -> tuple[str, int]:
        if done.is_set():
            return env.get_template("setup/done.html.j2").render(error="This setup has finished already."), 409
        if not hmac.compare_digest(str(request.args.get("state") or ""), state):
            return env.get_template("setup/done.html.j2").render(
                error="The answer did not come from the page this setup showed (state mismatch)."), 400
        try:
            created = convert(api_url, str(request.args.get("code") or ""))
            result["paths"] = write_credentials(Path(args.out), created, api_url, public_url)
            result["app"] = created
        except (SetupError, OSError) as exc:
            result["error"] = str(exc)
        done.set()
        if "error" in result:
            return env.get_template("setup/done.html.j2").render(error=result["error"]), 500
        created = result["app"]
        return env.get_template("setup/done.html.j2").render(
            name=created.name, out_dir=str(args.out), html_url=created.html_url, error=None), 200

    server = make_server("127.0.0.1", int(args.port), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"Open {local}/ in your browser and press the button to create the App on {github_url}.", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        print("mlgate setup: stopped; no App was created by this run.")
        return 130
    finally:
        server.shutdown()
    if "error" in result:
        print(f"mlgate setup: {result['error']}")
        return 1
    created, paths = result["app"], result["paths"]
    print(f"Created the GitHub App {created.name} (id {created.app_id}).\n"
          f"Saved (mode 0600): {paths[KEY_FILE]}, {paths[SECRET_FILE]}, {paths[ENV_FILE]}\n"
          f"Install it: {created.html_url}/installations/new\n"
          "Start mlgate with those settings:\n"
          f"  set -a; . {paths[ENV_FILE]}; set +a\n"
          "  gunicorn 'bot.app:create_app()' &\n"
          "  mlgate worker", flush=True)
    return 0
