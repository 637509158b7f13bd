"""Settings of the App's processes, read once from the environment when a process starts.

Nothing here runs at import time. A missing webhook secret or App credential stops the
server and the worker at start with the names of the missing variables (fail closed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import InvalidInput


class SettingsError(InvalidInput):
    """Settings that cannot work; the message names the variables to set."""


@dataclass(frozen=True)
class Settings:
    webhook_secret: str = field(repr=False)
    app_id: int
    private_key: str = field(repr=False)
    github_api_url: str = "https://api.github.com"
    database_url: str = "sqlite:///mlgate.db"
    queue_url: str = "sqlite:///mlgate-queue.db"
    tracking_uri: str | None = None
    public_url: str | None = None
    mlflow_ui_url: str | None = None  # the MLflow UI the comment and the dashboard link runs and versions in
    dashboard_token: str | None = field(default=None, repr=False)
    dashboard_plain_http: bool = False  # the login cookie without Secure: for a dashboard on plain HTTP, locally
    proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-For/-Proto are believed (werkzeug's ProxyFix)
    queue_name: str = "mlgate"
    spool_dir: str = "mlgate-spool"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [k for k in ("MLGATE_WEBHOOK_SECRET", "MLGATE_APP_ID") if not env.get(k, "").strip()]
        key = env.get("MLGATE_PRIVATE_KEY", "").strip()
        key_path = env.get("MLGATE_PRIVATE_KEY_PATH", "").strip()
        if not key and not key_path:
            missing.append("MLGATE_PRIVATE_KEY or MLGATE_PRIVATE_KEY_PATH")
        if missing:
            raise SettingsError(
                "mlgate refuses to start without " + ", ".join(missing)
                + " (see docs/github-app.md: the webhook secret and the App's id and private key)"
            )
        key, app_id = _private_key(env), _app_id(env)
        data = Path(env.get("MLGATE_DATA_DIR") or ".").resolve()
        return cls(
            webhook_secret=env["MLGATE_WEBHOOK_SECRET"],
            app_id=app_id,
            private_key=key,
            github_api_url=(env.get("MLGATE_GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            database_url=database_url_from_env(env),
            queue_url=check_queue_url(env.get("MLGATE_QUEUE_URL") or f"sqlite:///{data / 'mlgate-queue.db'}"),
            tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
            public_url=(env.get("MLGATE_PUBLIC_URL") or "").rstrip("/") or None,
            mlflow_ui_url=mlflow_ui_url_from_env(env),
            dashboard_token=env.get("MLGATE_DASHBOARD_TOKEN") or None,
            dashboard_plain_http=_flag(env, "MLGATE_DASHBOARD_PLAIN_HTTP"),
            proxy_hops=_proxy_hops(env),
            queue_name=env.get("MLGATE_QUEUE_NAME") or "mlgate",
            spool_dir=env.get("MLGATE_SPOOL_DIR") or str(data / "mlgate-spool"),
        )


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """The store the App uses: $MLGATE_DATABASE_URL, else mlgate.db in $MLGATE_DATA_DIR (or here).

    The operator commands (promote, rollback, status, audit, prune) use the same default, so
    they find the App's store instead of starting an empty one.
    """
    env = os.environ if env is None else env
    data = Path(env.get("MLGATE_DATA_DIR") or ".").resolve()
    return env.get("MLGATE_DATABASE_URL") or f"sqlite:///{data / 'mlgate.db'}"


def mlflow_ui_url_from_env(env: Mapping[str, str], name: str = "MLGATE_MLFLOW_UI_URL",
                           label: str | None = None) -> str | None:
    """$MLGATE_MLFLOW_UI_URL (or `name`) without its trailing slash: a plain http(s) URL, or a
    SettingsError naming `label` (the variable, unless given)."""
    from bot.render.text import safe_url

    value = (env.get(name) or "").strip().rstrip("/")
    if not value:
        return None
    if safe_url(value) != value or "#" in value or "?" in value:
        raise SettingsError(f"{label or name} must be the MLflow UI's http(s) URL, such as "
                            f"https://mlflow.example.com (no query or fragment), got {value[:60]!r}")
    return value


def _private_key(env: Mapping[str, str]) -> str:
    key = env.get("MLGATE_PRIVATE_KEY", "").strip()
    key_path = env.get("MLGATE_PRIVATE_KEY_PATH", "").strip()
    if not key:
        try:
            key = Path(key_path).read_text()
        except OSError as exc:
            raise SettingsError(f"MLGATE_PRIVATE_KEY_PATH={key_path} cannot be read: {exc.strerror}") from None
    if "PRIVATE KEY" not in key:
        raise SettingsError("the App private key is not a PEM key (it should start with -----BEGIN)")
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # never echo the key, nor the library's guess at it
        raise SettingsError("the App private key cannot be read (it is not a valid, unencrypted PEM private "
                            "key); download a new one from the App's settings on GitHub and set "
                            "MLGATE_PRIVATE_KEY or MLGATE_PRIVATE_KEY_PATH") from None
    return key


def check_queue_url(url: str) -> str:
    """The queue URL if mlgate can use it; otherwise an error that shows its form, not its value."""
    from urllib.parse import urlsplit

    from bot.redact import HIDDEN, redact_url

    form = "sqlite:///PATH or redis://[:PASSWORD@]HOST:PORT/DB"
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return url
    if url.startswith(("redis://", "rediss://")):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a port that is not a number
            db = parts.path.strip("/")
            if parts.hostname and (not db or db.isdigit()):
                return url
        except ValueError:
            pass
        raise SettingsError(f"MLGATE_QUEUE_URL={redact_url(url)} cannot be used: give it as {form}")
    shown = redact_url(url)
    raise SettingsError(f"MLGATE_QUEUE_URL must be {form}, got "
                        f"{shown if shown == HIDDEN else shown.split('://')[0] + '://…'}")


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be true or false, got {value[:20]!r}")


def _proxy_hops(env: Mapping[str, str]) -> int:
    value = env.get("MLGATE_PROXY_HOPS", "").strip() or "0"
    if not (value.isascii() and value.isdigit()) or int(value) > 5:
        raise SettingsError("MLGATE_PROXY_HOPS must be the number of reverse proxies in front of mlgate "
                            f"(0 to 5), got {value[:20]!r}")
    return int(value)


def _app_id(env: Mapping[str, str]) -> int:
    try:
        return int(env["MLGATE_APP_ID"])
    except ValueError:
        raise SettingsError(f"MLGATE_APP_ID must be a number, got {env['MLGATE_APP_ID']!r}") from None


@dataclass(frozen=True)
class AppCredentials:
    """What an operator command needs to act as the App on GitHub (no webhook secret)."""

    app_id: int
    private_key: str = field(repr=False)
    github_api_url: str = "https://api.github.com"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AppCredentials:
        env = os.environ if env is None else env
        missing = [] if env.get("MLGATE_APP_ID", "").strip() else ["MLGATE_APP_ID"]
        if not (env.get("MLGATE_PRIVATE_KEY", "").strip() or env.get("MLGATE_PRIVATE_KEY_PATH", "").strip()):
            missing.append("MLGATE_PRIVATE_KEY or MLGATE_PRIVATE_KEY_PATH")
        if missing:
            raise SettingsError(f"{' and '.join(missing)} not set")
        return cls(_app_id(env), _private_key(env),
                   (env.get("MLGATE_GITHUB_API_URL") or "https://api.github.com").rstrip("/"))
