"""The session state machine as an SVG picture (`jsonchat spec diagram --svg`).

For readers of PROTOCOL.md without a Mermaid viewer: the same data as `statemachine.mermaid()`,
drawn with no library. The states stand in a row in the order machine.json lists them (the
order a session lives them); a transition to a later state is an arc above the row, to an
earlier one an arc below, to the same state a loop on top. Transitions between the same two
states share one arrow, labelled with all their triggers; each refusal is a note under its state.
"""

from __future__ import annotations

from html import escape

from protocol import error_text, machine_spec
from protocol.statemachine import build_machine, refusals, transition_table

__all__ = ["state_svg"]

BOX_W, BOX_H, GAP = 170, 46, 150
TOP = 170  # y of the row of states: room above for arcs and loops
CHAR_W = 6.9  # px per character of the 12 px label font


def state_svg() -> str:
    spec = machine_spec()
    names = [s["name"] for s in spec["states"]]
    finals = {s["name"] for s in spec["states"] if s.get("final")}
    docs = {s["name"]: s.get("doc", "") for s in spec["states"]}
    left = 90
    x_of = {name: left + i * (BOX_W + GAP) for i, name in enumerate(names)}
    centre = {name: x + BOX_W / 2 for name, x in x_of.items()}
    edges: dict[tuple[str, str], list[str]] = {}
    for (source, trigger), dest in sorted(transition_table(build_machine()).items()):
        edges.setdefault((source, dest), []).append(trigger)
    parts: list[str] = []
    below = 0  # deepest arc under the row
    for (source, dest), triggers in edges.items():
        label = ", ".join(dict.fromkeys(triggers))
        if source == dest:
            cx = centre[source]
            parts.append(
                f'<path class="edge" d="M{cx - 30},{TOP} C{cx - 60},{TOP - 70} {cx + 60},'
                f'{TOP - 70} {cx + 30},{TOP}" marker-end="url(#arrow)"/>'
                + _label(cx, TOP - 62, label)
            )
            continue
        i, j = names.index(source), names.index(dest)
        span = abs(j - i)
        sx, dx = centre[source], centre[dest]
        if j > i and span == 1:
            y = TOP + BOX_H / 2
            parts.append(
                f'<path class="edge" d="M{x_of[source] + BOX_W},{y} L{x_of[dest] - 2},{y}" '
                'marker-end="url(#arrow)"/>' + _label((sx + dx) / 2, y - 8, label, wrap=GAP)
            )
            continue
        lift = 60 + 45 * span
        y0 = TOP if j > i else TOP + BOX_H
        y1 = y0 - lift if j > i else y0 + lift
        below = max(below, lift if j < i else 0)
        mid = (y0 + y1) / 2 + (y1 - y0) / 4
        parts.append(
            f'<path class="edge" d="M{sx + 20},{y0} C{sx + 20},{y1} {dx - 20},{y1} '
            f'{dx - 20},{y0}" marker-end="url(#arrow)"/>' + _label((sx + dx) / 2, mid - 4, label)
        )
    notes_y = TOP + BOX_H + max(below, 30) + 20
    by_state: dict[str, list[str]] = {}
    for (source, trigger), refusal in sorted(refusals().items()):
        by_state.setdefault(source, []).append(f"{trigger} refused: {error_text(refusal.error)}")
    deepest = notes_y
    for source, lines in by_state.items():
        x, y = x_of[source], notes_y
        width = max(BOX_W, max(len(line) for line in lines) * CHAR_W + 20)
        height = 12 + 18 * len(lines)
        parts.append(
            f'<line class="tether" x1="{centre[source]}" y1="{TOP + BOX_H}" '
            f'x2="{centre[source]}" y2="{y}"/>'
            f'<rect class="note" x="{x}" y="{y}" width="{width:.0f}" height="{height}" rx="4"/>'
            + "".join(
                f'<text class="notetext" x="{x + 10}" y="{y + 20 + 18 * k}">{escape(line)}</text>'
                for k, line in enumerate(lines)
            )
        )
        deepest = max(deepest, y + height)
    start_x = left - 50
    parts.append(
        f'<circle class="start" cx="{start_x}" cy="{TOP + BOX_H / 2}" r="8"/>'
        f'<path class="edge" d="M{start_x + 8},{TOP + BOX_H / 2} L{left - 2},{TOP + BOX_H / 2}" '
        'marker-end="url(#arrow)"/>'
    )
    for name in names:
        x = x_of[name]
        css = "state final" if name in finals else "state"
        parts.append(
            f"<g><title>{escape(docs[name])}</title>"
            f'<rect class="{css}" x="{x}" y="{TOP}" width="{BOX_W}" height="{BOX_H}" rx="12"/>'
            f'<text class="name" x="{x + BOX_W / 2}" y="{TOP + BOX_H / 2 + 5}" '
            f'text-anchor="middle">{escape(name)}</text></g>'
        )
        if name in finals:
            end_x = x + BOX_W + 40
            parts.append(
                f'<path class="edge" d="M{x + BOX_W},{TOP + BOX_H / 2} L{end_x - 12},'
                f'{TOP + BOX_H / 2}" marker-end="url(#arrow)"/>'
                f'<circle class="end" cx="{end_x}" cy="{TOP + BOX_H / 2}" r="9"/>'
                f'<circle class="start" cx="{end_x}" cy="{TOP + BOX_H / 2}" r="5"/>'
            )
    width = int(max(x_of.values()) + BOX_W + 80)
    width = max(
        width, *(x_of[s] + 20 + max(len(t) for t in ls) * CHAR_W for s, ls in by_state.items())
    )
    height = int(deepest + 20)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height}" '
        f'width="{width:.0f}" height="{height}" font-family="system-ui, sans-serif" font-size="12">'
        "<title>jsonchat session state machine</title>"
        f"<style>{_STYLE}</style>"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#475569"/>'
        f'</marker></defs><rect width="100%" height="100%" fill="#fff"/>{"".join(parts)}</svg>\n'
    )


def _label(x: float, y: float, text: str, wrap: float = 0) -> str:
    """A label centred on (x, y); one with commas that is wider than `wrap` goes on lines."""
    lines = [text]
    if wrap and len(text) * 6.9 > wrap:
        lines = [part.strip() for part in text.split(",")]
    top = y - 15 * (len(lines) - 1)
    return "".join(
        f'<text class="elabel" x="{x:.0f}" y="{top + 15 * k:.0f}" text-anchor="middle">'
        f"{escape(line)}</text>"
        for k, line in enumerate(lines)
    )


_STYLE = (
    ".state{fill:#eef2f8;stroke:#273248;stroke-width:1.6}"
    ".state.final{fill:#e5e7eb;stroke-dasharray:0}"
    ".name{font-weight:650;fill:#273248;font-size:14px}"
    ".edge{fill:none;stroke:#475569;stroke-width:1.4}"
    ".elabel{fill:#1e40af;paint-order:stroke;stroke:#fff;stroke-width:4px;"
    "font-family:ui-monospace,Menlo,Consolas,monospace}"
    ".start{fill:#273248}.end{fill:none;stroke:#273248;stroke-width:1.6}"
    ".note{fill:#fffbeb;stroke:#d97706}.notetext{fill:#92400e}"
    ".tether{stroke:#d97706;stroke-dasharray:3 3}"
)
