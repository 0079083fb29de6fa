"""Generated blocks of PROTOCOL.md: rules, limits, errors and the state diagram.

The prose of PROTOCOL.md is written by hand; every table or list that restates the protocol data
sits between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED -->` markers and is
rewritten from the data by `jsonchat spec render`. A test fails when the committed file is stale,
so the document cannot drift from the data the engine and the suite read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from protocol import (
    error_table,
    error_text,
    limit_table,
    machine_spec,
    requirements,
    reserved_names,
    schema_keyword_errors,
)
from protocol.statemachine import mermaid, refusals

SPEC_PATH = Path(__file__).with_name("PROTOCOL.md")
_BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w -]+) -->\n)(?P<body>.*?)(<!-- END GENERATED -->)",
    re.DOTALL,
)


def rules_block(section: str) -> str:
    lines = [
        f"- **{r.id}** ({r.level}, {r.profile}{', client' if r.subject == 'client' else ''}) "
        f"{r.text}"
        for r in requirements()
        if r.section == section
    ]
    if not lines:
        raise KeyError(f"no requirements in section {section!r}")
    return "\n".join(lines) + "\n"


def limits_block() -> str:
    rows = ["| limit | default | scope | meaning |", "|---|---|---|---|"]
    for name, entry in limit_table().items():
        rows.append(f"| `{name}` | {entry['value']} | {entry['scope']} | {entry['doc']} |")
    return "\n".join(rows) + "\n"


def errors_block() -> str:
    rows = ["| code | text on the wire | from | when |", "|---|---|---|---|"]
    for code, entry in error_table().items():
        text = error_text(code, action="<action>")
        origin = "peer servers" if entry["origin"] == "peer" else "new in jsonchat"
        rows.append(f"| `{code}` | `{text}` | {origin} | {entry['doc']} |")
    return "\n".join(rows) + "\n"


def names_block() -> str:
    lines = [f"- `{entry['value']}`: {entry['doc']}" for entry in reserved_names().values()]
    return "\n".join(lines) + "\n"


def mapping_block() -> str:
    rows = ["| rank | failing schema keyword | error sent |", "|---|---|---|"]
    for rank, (keyword, root_only, code) in enumerate(schema_keyword_errors(), start=1):
        where = " at the document root" if root_only else ""
        rows.append(f"| {rank} | `{keyword}`{where} | `{error_text(code, action='<action>')}` |")
    return "\n".join(rows) + "\n"


def machine_block() -> str:
    spec = machine_spec()
    rows = ["| event | from | to | rules |", "|---|---|---|---|"]
    for t in spec["transitions"]:
        rows.append(
            f"| `{t['trigger']}` | {t['source']} | {t['dest']} | {', '.join(t['requirements'])} |"
        )
    for r in refusals().values():
        text = error_text(r.error)
        rows.append(
            f"| `{r.trigger}` | {r.source} | refused: `{text}` | {', '.join(r.requirements)} |"
        )
    return "\n".join(rows) + "\n"


def diagram_block() -> str:
    return "```mermaid\n" + mermaid() + "```\n"


def _renderer(name: str) -> Callable[[], str]:
    kind, _, arg = name.partition(" ")
    simple: dict[str, Callable[[], str]] = {
        "limits": limits_block,
        "errors": errors_block,
        "error-mapping": mapping_block,
        "names": names_block,
        "machine": machine_block,
        "diagram": diagram_block,
    }
    if kind == "rules":
        return lambda: rules_block(arg)
    if kind in simple:
        return simple[kind]
    raise KeyError(f"unknown generated block {name!r}")


def render(text: str) -> str:
    """`text` with every generated block rewritten from the protocol data."""
    return _BLOCK.sub(lambda m: m.group(1) + _renderer(m.group("name"))() + m.group(4), text)


def is_current(path: Path = SPEC_PATH) -> bool:
    text = path.read_text("utf-8")
    return render(text) == text


def write(path: Path = SPEC_PATH) -> bool:
    """Rewrite the generated blocks in place; True when anything changed."""
    text = path.read_text("utf-8")
    new = render(text)
    if new != text:
        path.write_text(new, "utf-8")
    return new != text
