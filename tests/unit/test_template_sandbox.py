"""Hostile message templates: the well-known Jinja2 sandbox escapes are reported by validation
(with the line) and refused by the sandbox at render time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jinja2 import TemplateError

from inference_worker.message_templates import CopyTemplateError, TemplateLibrary, template_problems
from journeys_app.core.settings import Settings

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ customer.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ customer['__class__'] }}",
    "{{ lipsum.__globals__['os'].environ }}",
]


def hostile_library(tmp_path: Path, expression: str) -> TemplateLibrary:
    root = tmp_path / "templates"
    shutil.copytree(Settings().templates_dir, root)
    (root / "messages" / "sms" / "evil.j2").write_text(
        "{% block slot_message %}Say hi.{% endblock %}\n"
        "{% block default_message %}Hi!{% endblock %}\n"
        "{% block body %}Hello " + expression + " {{ slots.message }}{% endblock %}\n"
    )
    return TemplateLibrary(root)


@pytest.mark.parametrize("expression", ESCAPES)
def test_sandbox_escapes_are_reported_and_refused(tmp_path: Path, expression: str) -> None:
    library = hostile_library(tmp_path, expression)
    problems = template_problems(
        "sms/evil", library.root if hasattr(library, "root") else tmp_path / "templates"
    )
    assert any("evil.j2:3:" in p and "Python internals" in p for p in problems), problems
    with pytest.raises(CopyTemplateError, match="Python internals"):
        library.get("sms/evil")  # the generator never loads it
    raw = library.env.get_template("messages/sms/evil.j2")  # and the sandbox refuses it regardless
    with pytest.raises(TemplateError):
        raw.render(customer={"first_name": "Ava"}, slots={"message": "Hi"})


def test_a_misspelt_name_is_reported_at_validate(tmp_path: Path) -> None:
    library = hostile_library(tmp_path, "{{ custmer.first_name }}")
    problems = template_problems("sms/evil", tmp_path / "templates")
    assert any("unknown name 'custmer'; templates see" in p for p in problems), problems
    with pytest.raises(CopyTemplateError, match="custmer"):
        library.get("sms/evil")


def test_event_properties_named_like_dict_methods_are_the_properties() -> None:
    """`event.items` is the event's `items` property, in conditions and in message templates alike;
    a property the event lacks is an error, never a dict method."""
    from workflows.expressions import ExpressionError, evaluate, render

    event = {"items": ["Oak desk", "Wool throw"], "values": 2}
    assert render("{{ event.items | join(', ') }}", {"event": event}) == "Oak desk, Wool throw"
    assert evaluate("event.values == 2 and event.items | length == 2", {"event": event})
    assert not evaluate("event.keys is defined", {"event": event})
    with pytest.raises(ExpressionError, match="has no attribute 'keys'"):
        render("{{ event.keys }}", {"event": event})

    library = TemplateLibrary(Settings().templates_dir)
    body = library.get("email/cart_reminder").render_block(
        "cart", {"customer": {"first_name": "Ava"}, "event": event, "steps": {}}
    )
    assert body == "In your cart: Oak desk, Wool throw."
