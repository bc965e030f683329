"""Message templates: plain text with `{first_name}`, `{points}`, `{expiry}` and `{offer}`.

A placeholder is one of those names, bare: no format spec (`{points:d}`), conversion
(`{first_name!r}`), index or attribute (`{offer.__class__}`) and no positional field (`{0}`),
so a template renders the same way for every member and shows nothing but its placeholders'
values. `{{` and `}}` write braces.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

from services.runtime.errors import InvalidArgument

PLACEHOLDERS = ("first_name", "points", "expiry", "offer")
# What identity accepts as a message's body, in characters.
MAX_BODY = 1000


class Unrenderable(ValueError):
    """A template that cannot be rendered; its text says why."""


def render(template: str, values: Mapping[str, object]) -> str:
    """The template with each placeholder replaced by `str` of its value."""
    try:
        pieces = list(Formatter().parse(template))
    except ValueError as error:
        raise Unrenderable(str(error)) from None
    out = []
    for literal, name, spec, conversion in pieces:
        out.append(literal)
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            shown = f"{{{name}}}" if name.isidentifier() else "this placeholder"
            raise Unrenderable(f"unknown placeholder {shown}; use {', '.join(PLACEHOLDERS)}")
        if spec or conversion:
            raise Unrenderable(f"write {{{name}}} bare, without a format or conversion")
        if name not in values:
            raise Unrenderable(f"no value for {{{name}}}")
        out.append(str(values[name]))
    return "".join(out)


def _samples(offer: str) -> list[dict[str, str]]:
    """Values of every placeholder: none at all, then for an English and a Persian name the
    usual ones and the longest (a first name holds 100 characters, points are an int64)."""
    samples = [{"first_name": "", "points": "0", "expiry": "", "offer": ""}]
    for name in ("Sara", "سارا"):
        usual = {"first_name": name, "points": "120", "expiry": "120 points on 2027-01-31"}
        longest = {
            "first_name": (name * 100)[:100],
            "points": str(-(2**63)),
            "expiry": f"{2**63 - 1} points on 2027-01-31",
        }
        samples += [{**usual, "offer": offer}, {**longest, "offer": offer}]
    return samples


def check(template: str, offer: str, path: str) -> None:
    """Renders a template being saved with the samples, and refuses as `invalid-template`
    (naming `path`) one that would not render, or would render blank or longer than a message
    may be. `offer` is the campaign's offer as a message shows it."""
    try:
        bodies = [render(template, values) for values in _samples(offer)]
    except Unrenderable as error:
        raise InvalidArgument(f"{path}: {error}", code="invalid-template") from None
    if not bodies[0].strip():
        raise InvalidArgument(
            f"{path}: needs some text besides its placeholders", code="invalid-template"
        )
    if max(len(body) for body in bodies) > MAX_BODY:
        raise InvalidArgument(
            f"{path}: with the longest names and values it exceeds {MAX_BODY} characters",
            code="invalid-template",
        )
