"""Credentials out of everything mlgate prints: error messages, log lines, reports and comments.

One place for it, because each copy of such a regex had its own hole (a password with `/` in
it, a URL without `//`, a query-string password, an unescaped `@` that moves the secret into
what a driver then calls the host name and prints).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# scheme://anything-without-spaces@ : greedy up to the last @, so `user:p@ss/w@host` loses it all;
# in running text a quote ends the URL, in one command-line argument it can be part of a password
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"]*@")
_USERINFO_ARG = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)\S*@")
_QUERY_SECRET = re.compile(r"(?i)([?&;](?:[a-z_]*token|password|passwd|pwd|secret|[a-z_]*key|sig)=)[^&;\s'\"]+")
HIDDEN = "(not a URL; value hidden)"


def redact(text: str | None, *, argument: bool = False) -> str:
    """`text` with the user:password@ of every URL and every secret-looking query value hidden.

    `argument`: `text` is one command-line argument, where a quote belongs to the value.
    """
    userinfo = _USERINFO_ARG if argument else _USERINFO
    return _QUERY_SECRET.sub(r"\1***", userinfo.sub(r"\1***@", text or ""))


def redact_url(url: str) -> str:
    """A URL fit to show; something that is not a URL is not shown at all."""
    return redact(url) if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url) else HIDDEN


def url_secrets(url: str) -> list[str]:
    """The parts of `url` that must not appear in any message, however a driver splits them.

    A driver that parses `user:p@ss@host` as host `ss@host`, or `user:p@h/ss@db` as database
    `ss@db`, prints those pieces in its errors: the whole password and each piece of it
    between `@`, `/`, `:`, `?` and `#` are scrubbed from such text.
    """
    m = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://([^\s]*)@", url)
    found: list[str] = []
    if m and ":" in m.group(1):
        password = m.group(1).split(":", 1)[1]
        found += [password, unquote(password), *re.split(r"[@/:?#]", password)]
    found += [v for v in re.findall(r"(?i)[?&;](?:[a-z_]*token|password|passwd|pwd|secret|[a-z_]*key)=([^&;\s]+)", url)]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every URL redacted and each of `secrets` replaced by ***."""
    out = redact(text)
    for secret in secrets:
        out = out.replace(secret, "***")
    return out
