"""Message templates: where they live, how they are checked, how their blocks render.

A template (templates/messages/<channel>/<name>.j2) is fixed brand copy with named slots:

    {% block slot_opening %}instruction for the model{% endblock %}
    {% block default_opening %}human-written fallback sentence{% endblock %}
    {% block subject %}…{% endblock %}            (email only)
    {% block body %}Hi …, {{ slots.opening }} …{% endblock %}
    {% block offer %}10% off …{% endblock %}       (optional: the only offer the model may mention)

The same template in another language sits beside it as `<name>.<language>.j2` (answer.zh.j2):
a customer who writes that language, or whose locale is it, gets it.

Blocks render one at a time in a sandboxed, strict Jinja2 environment, so a typo in a template
is an error naming the block, never a silently empty sentence in a customer's inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
    nodes,
    pass_context,
)
from jinja2.runtime import Context

from inference_worker import guardrails
from workflows.expressions import DataSandbox, ExpressionError, limits

MESSAGES_DIR = "messages"
SUFFIX = ".j2"
CHANNELS = ("email", "sms", "push", "webhook")
QUOTE_MAX_CHARS = 300  # of the customer's message shown to the model
_NAME = re.compile(r"^[a-z_]+/[a-z0-9_]+$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


class CopyTemplateError(ValueError):
    """A template is missing, malformed or cannot be rendered with the given context."""


@pass_context
def quote_customer_text(context: Context, value: Any) -> str:
    """Jinja filter `as_data`: the customer's words as a short quoted string, never as instructions.

    A message that tries to instruct the writer is not shown to the model at all. When rendering
    for the guardrails (`_hide_data`), the quote is left out: names and numbers that only the
    customer wrote do not count as facts the template gave the model.
    """
    if context.get("_hide_data"):
        return "(customer's message)"
    text = " ".join(str(value).split())
    if guardrails.looks_like_injection(text):
        return "(message not quoted)"
    if len(text) > QUOTE_MAX_CHARS:
        text = text[:QUOTE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    return '"' + text.replace('"', "'") + '"'


def make_environment(templates_dir: Path) -> DataSandbox:
    env = DataSandbox(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text email and SMS; HTML rendering happens at delivery
        keep_trailing_newline=False,
        auto_reload=True,
    )
    env.filters["as_data"] = quote_customer_text
    return env


def _default_templates_dir() -> Path:
    from journeys_app.core.settings import get_settings

    return get_settings().templates_dir


def list_templates(templates_dir: Path | None = None) -> list[str]:
    """Template names usable in journeys, e.g. ["email/apology", "sms/reengage"]."""
    root = (templates_dir or _default_templates_dir()) / MESSAGES_DIR
    names = (p.relative_to(root).with_suffix("").as_posix() for p in root.glob(f"*/*{SUFFIX}"))
    return sorted(n for n in names if _NAME.match(n) and n.split("/")[0] in CHANNELS)


def template_exists(name: str, templates_dir: Path | None = None) -> bool:
    return name in list_templates(templates_dir)


def template_problems(name: str, templates_dir: Path | None = None, *, knowledge: bool = False) -> list[str]:
    """What `journeys validate` should report about a template (empty list = usable)."""
    return TemplateLibrary(templates_dir or _default_templates_dir()).problems(name, knowledge=knowledge)


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    channel: str
    template: Template
    slots: tuple[str, ...]
    language: str = "en"  # of its fixed copy; the model's slot text must match it

    @property
    def has_offer(self) -> bool:
        return "offer" in self.template.blocks

    def render_block(self, block: str, context: dict[str, Any]) -> str:
        try:
            with limits():
                ctx = self.template.new_context(context)
                return "".join(self.template.blocks[block](ctx)).strip()
        except (TemplateError, ExpressionError) as exc:
            raise CopyTemplateError(f"{self.name}: block {block!r}: {exc}") from exc


def _path(name: str, language: str | None) -> str:
    """The file of a template (relative to the templates folder), or of its translation."""
    return f"{MESSAGES_DIR}/{name}{'.' + language if language else ''}{SUFFIX}"


# What a message template's context holds (see CopyGenerator.prepare): anything else is a typo.
TEMPLATE_NAMES = frozenset(
    {"customer", "event", "steps", "brief", "channel", "slots", "offer", "knowledge", "_hide_data"}
)


def _internals(ast: nodes.Template) -> list[tuple[int, str]]:
    """`x.__class__`, `x['_private']` and the like: the sandbox refuses them at render time too,
    but a marketer should hear about it from `journeys validate`, with the line."""
    found = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            found.append((node.lineno, f"'{name}'"))
    return found


def _slot_references(ast: nodes.Template) -> set[str]:
    used = {
        n.attr
        for n in ast.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name == "slots"
    }
    used |= {
        str(n.arg.value)
        for n in ast.find_all(nodes.Getitem)
        if isinstance(n.node, nodes.Name) and n.node.name == "slots" and isinstance(n.arg, nodes.Const)
    }
    return used


class TemplateLibrary:
    """Loads and structurally checks message templates under templates_dir/messages."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.env = make_environment(templates_dir)
        self._checked: dict[str, tuple[int, MessageTemplate]] = {}

    def names(self) -> list[str]:
        return list_templates(self.templates_dir)

    def exists(self, name: str) -> bool:
        return template_exists(name, self.templates_dir)

    def languages(self, name: str) -> list[str]:
        """The languages `name` has a translation in (`<name>.<language>.j2` files)."""
        if not _NAME.match(name):
            return []
        channel, base = name.split("/", 1)
        folder = self.templates_dir / MESSAGES_DIR / channel
        codes = (p.name[len(base) + 1 : -len(SUFFIX)] for p in folder.glob(f"{base}.*{SUFFIX}"))
        return sorted(code for code in codes if _LANGUAGE.match(code))

    def problems(self, name: str, *, knowledge: bool = False) -> list[str]:
        """What is wrong with a template and its translations, in words a marketer can act on
        (empty = fine). `knowledge`: the step gives the template a retrieve step's result."""
        if not self.exists(name):
            return [f"template {name!r} not found; available: {', '.join(self.names())}"]
        found = self._file_problems(name, _path(name, None))
        found += [p for code in self.languages(name) for p in self._file_problems(name, _path(name, code))]
        if found:
            return found
        if not knowledge and any(
            "knowledge" in self._names(_path(name, code)) for code in [None, *self.languages(name)]
        ):
            found.append(
                f"{_path(name, None)} answers from the knowledge base: give the step "
                "knowledge: <the id of a retrieve step>"
            )
        return found

    def _names(self, path: str) -> set[str]:
        source = self.env.loader.get_source(self.env, path)[0]  # type: ignore[union-attr]
        return meta.find_undeclared_variables(self.env.parse(source))

    def _file_problems(self, name: str, path: str) -> list[str]:
        try:
            template = self.env.get_template(path)
            source = self.env.loader.get_source(self.env, path)[0]  # type: ignore[union-attr]
            ast = self.env.parse(source)
        except TemplateError as exc:
            return [f"{path}: {exc}"]
        blocks = set(template.blocks)
        channel = name.split("/", 1)[0]
        found: list[str] = []
        if "body" not in blocks:
            found.append(f"{path}: needs a {{% block body %}}")
        if channel == "email" and "subject" not in blocks:
            found.append(f"{path}: an email template needs a {{% block subject %}}")
        if channel == "sms" and "subject" in blocks:
            found.append(f"{path}: SMS has no subject; remove the subject block")
        slots = {b.removeprefix("slot_") for b in blocks if b.startswith("slot_")}
        defaults = {b.removeprefix("default_") for b in blocks if b.startswith("default_")}
        found += [
            f"{path}: slot {s!r} needs a {{% block default_{s} %}} fallback" for s in sorted(slots - defaults)
        ]
        found += [f"{path}: default_{s} has no matching slot_{s} block" for s in sorted(defaults - slots)]
        used = _slot_references(ast)
        found += [f"{path}: uses slots.{s} but defines no slot_{s} block" for s in sorted(used - slots)]
        found += [
            f"{path}: slot {s!r} is never shown; add {{{{ slots.{s} }}}} to the body"
            for s in sorted(slots - used)
        ]
        found += [
            f"{path}:{line}: {what} reaches into Python internals; use only the data templates are given"
            for line, what in _internals(ast)
        ]
        unknown = sorted(meta.find_undeclared_variables(ast) - TEMPLATE_NAMES - set(self.env.globals))
        found += [
            f"{path}: unknown name {name!r}; templates see {', '.join(sorted(TEMPLATE_NAMES))}"
            for name in unknown
        ]
        return found

    def get(self, name: str, language: str | None = None) -> MessageTemplate:
        """A checked template, in `language` where it has that translation; re-checked only when
        its file changes (edits apply without restart)."""
        code = language if language and language in self.languages(name) else None
        path = self.templates_dir / _path(name, code)
        try:
            mtime = path.stat().st_mtime_ns if _NAME.match(name) else None
        except OSError:
            mtime = None
        cached = self._checked.get(f"{name}.{code}")
        if mtime is not None and cached and cached[0] == mtime:
            return cached[1]
        problems = self.problems(name, knowledge=True)  # a missing `knowledge` fails at render time
        if problems:
            raise CopyTemplateError("; ".join(problems))
        try:
            template = self.env.get_template(_path(name, code))
        except TemplateNotFound as exc:  # removed between the check and now
            raise CopyTemplateError(f"template {name!r} not found") from exc
        slots = tuple(b.removeprefix("slot_") for b in template.blocks if b.startswith("slot_"))
        checked = MessageTemplate(
            name=name, channel=name.split("/", 1)[0], template=template, slots=slots, language=code or "en"
        )
        if mtime is not None:
            self._checked[f"{name}.{code}"] = (mtime, checked)
        return checked

    def render_prompt(self, name: str, context: dict[str, Any]) -> str:
        try:
            with limits():
                return self.env.get_template(f"prompts/{name}").render(context).strip()
        except (TemplateError, ExpressionError) as exc:
            raise CopyTemplateError(f"prompts/{name}: {exc}") from exc
