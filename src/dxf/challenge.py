"""Parsing ``WWW-Authenticate`` headers (RFC 7235 section 4.1, RFC 9110 section 11.6.1).

A registry that wants credentials answers 401 with one or more challenges, e.g.::

    WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"

The grammar is awkward because the same comma separates challenges *and* the parameters of one
challenge, and ``requests`` folds repeated headers into a single comma-joined string. So after each
parameter we look ahead: ``token OWS "="`` continues the current challenge, anything else starts a
new one.

The parser is deliberately forgiving and never raises: a registry that sends a slightly malformed
header should still let us log in when the part we need is readable. The rules for bad input are:

* a malformed list element (a parameter without a value, an unterminated quoted string, stray
  characters after a value, a "challenge" that does not start with a token followed by whitespace,
  a comma or the end) is skipped up to the next comma outside quotes; the challenge being built keeps
  the parameters that did parse;
* a repeated parameter name keeps its first value (the RFC forbids repeats, so neither is "right",
  and first-wins cannot be overridden by something appended later);
* CR and LF count as whitespace, so values with leftover obs-fold line breaks still parse;
* unquoted values may contain any character except whitespace, ``,`` and ``"`` -- wider than the
  RFC's ``token``, because some servers send unquoted URLs.

Unknown schemes are returned like any other: the caller picks the one it knows (:func:`find_challenge`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_UNQUOTED_VALUE_RE = re.compile(r'[^ \t\r\n,"]+')
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: ``scheme`` and ``params`` keys are lowercased (both are
    case-insensitive in HTTP); parameter values are kept exactly as sent, unquoted and unescaped.
    A challenge carries either ``params`` or a ``token68`` (e.g. ``Negotiate abc==``), never both."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None


def parse_challenges(values: str | Iterable[str]) -> list[Challenge]:
    """Every challenge found in one header value or in several, in order.

    Never raises: garbage is skipped as described in the module docstring, and non-string items
    of an iterable are ignored.
    """
    texts = [values] if isinstance(values, str) else values
    challenges: list[Challenge] = []
    for text in texts:
        if isinstance(text, str):
            challenges.extend(_Parser(text).challenges())
    return challenges


def find_challenge(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """The first challenge of ``scheme`` (compared case-insensitively), or ``None``."""
    wanted = scheme.lower()
    return next((c for c in challenges if c.scheme == wanted), None)


class _Parser:
    """A cursor over one header value; each method leaves ``pos`` just past what it consumed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def challenges(self) -> list[Challenge]:
        found: list[Challenge] = []
        while True:
            self._skip(_WHITESPACE + ",")
            if self.pos >= len(self.text):
                return found
            challenge = self._challenge()
            if challenge is None:
                self._skip_element()
            else:
                found.append(challenge)

    def _challenge(self) -> Challenge | None:
        scheme = self._token()
        if scheme is None:
            return None
        scheme = scheme.lower()
        if self._at_element_end():
            return Challenge(scheme)
        if not self._skip(_WHITESPACE):
            return None  # e.g. ``realm="x"`` with no scheme in front: not a challenge
        if self._at_element_end():
            return Challenge(scheme)
        token68 = self._token68()
        if token68 is not None:
            return Challenge(scheme, token68=token68)
        params: dict[str, str] = {}
        self._auth_param(params)
        while self._param_follows():
            self._auth_param(params)
        return Challenge(scheme, params)

    def _token68(self) -> str | None:
        """A token68 if it is the whole rest of the element; otherwise consume nothing."""
        match = _TOKEN68_RE.match(self.text, self.pos)
        if match is None:
            return None
        start = self.pos
        self.pos = match.end()
        self._skip(_WHITESPACE)
        if self._at_element_end():
            return match.group()
        self.pos = start
        return None

    def _auth_param(self, params: dict[str, str]) -> None:
        """Parse ``name = value`` into ``params``, or skip the malformed element."""
        name = self._token()
        value = None
        if name is not None:
            self._skip(_WHITESPACE)
            if self._take("="):
                self._skip(_WHITESPACE)
                value = self._value()
                self._skip(_WHITESPACE)
        if name is None or value is None or not self._at_element_end():
            self._skip_element()
            return
        params.setdefault(name.lower(), value)

    def _param_follows(self) -> bool:
        """Whether the next list element is ``token OWS "="``; if so, move to its start."""
        start = self.pos
        self._skip(_WHITESPACE + ",")
        element = self.pos
        if self._token() is not None:
            self._skip(_WHITESPACE)
            if self._take("="):
                self.pos = element
                return True
        self.pos = start
        return False

    def _value(self) -> str | None:
        if self._take('"'):
            return self._quoted_rest()
        match = _UNQUOTED_VALUE_RE.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def _quoted_rest(self) -> str | None:
        """The rest of a quoted string whose opening quote was consumed; ``None`` if unterminated."""
        text, i = self.text, self.pos
        chars: list[str] = []
        while i < len(text):
            c = text[i]
            if c == '"':
                self.pos = i + 1
                return "".join(chars)
            if c == "\\":
                i += 1
                if i >= len(text):
                    break
                c = text[i]
            chars.append(c)
            i += 1
        self.pos = len(text)
        return None

    def _skip_element(self) -> None:
        """Move to the next comma outside a quoted string, or to the end."""
        text, i = self.text, self.pos
        quoted = False
        while i < len(text):
            c = text[i]
            if quoted:
                if c == "\\":
                    i += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == ",":
                break
            i += 1
        self.pos = min(i, len(text))

    def _token(self) -> str | None:
        match = _TOKEN_RE.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def _take(self, char: str) -> bool:
        if self.text.startswith(char, self.pos):
            self.pos += len(char)
            return True
        return False

    def _skip(self, chars: str) -> bool:
        """Skip any run of ``chars``; report whether at least one was skipped."""
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1
        return self.pos > start

    def _at_element_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] == ","
