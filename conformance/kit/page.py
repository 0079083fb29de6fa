"""The HTML page the conformance and fuzz reports share: one self-contained file.

Everything is inline (styles, the one small script, diagrams as SVG) so the page opens offline and
can be mailed or attached to an issue as it is. Its Content-Security-Policy allows no network
request at all and runs only the page's own script (by its hash): text from a hostile server is
escaped wherever it goes, and even a mistake in that could load nothing and run nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from html import escape
from typing import Any

from conformance.kit.cluster import targets_text
from conformance.kit.probe import Capabilities

__all__ = ["VERDICT_COLOURS", "badge", "data_script", "document", "esc", "prose", "targets_html"]

# The verdicts' colours, shared by the badges, the bars and the legend.
VERDICT_COLOURS = {
    "pass": "#16a34a",
    "fail": "#dc2626",
    "error": "#7c2d12",
    "non-strict": "#d97706",
    "informational": "#2563eb",
    "skipped": "#9ca3af",
}


def esc(text: object) -> str:
    """Text for HTML content or a quoted attribute."""
    return escape(str(text), quote=True)


def prose(text: str) -> str:
    """A rule's text as PROTOCOL.md writes it: escaped, with `code` set as code."""
    parts = esc(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave the text as it is
        return esc(text)
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def badge(verdict: str) -> str:
    return f'<span class="badge v-{esc(verdict)}">{esc(verdict.upper())}</span>'


def targets_html(targets: Sequence[str]) -> str:
    """`target <code>...</code>`, or a cluster's targets numbered as the reports name them."""
    word, _, rest = targets_text(targets).partition(" ")
    spread = " (clients spread round-robin)" if len(targets) > 1 else ""
    return f"{word} <code>{esc(rest)}</code>{spread}"


def probe_list(caps: Capabilities) -> str:
    """What the probe found, as the summary of both pages shows it: each optional capability
    ticked or crossed, then the probe's notes."""
    found = (
        ("sends a welcome", caps.sends_welcome),
        ("answers connect", caps.answers_connect),
        ("echoes a message to oneself", caps.echoes_self),
    )
    items = "".join(
        f'<li class="{"yes" if ok else "no"}">{"✓" if ok else "✗"} {esc(what)}</li>'
        for what, ok in found
    )
    notes = "".join(f"<li class='muted'>{esc(note)}</li>" for note in caps.notes)
    return f"<ul class='probe'>{items}{notes}</ul>"


def data_script(element_id: str, data: Any) -> str:
    """Data for the page's script as a JSON block; `<`, `>` and `&` are escaped in it, so no
    string can close the element."""
    text = json.dumps(data, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def document(title: str, body: str, script: str = "") -> str:
    """The whole page: `body` is trusted HTML built with `esc`, `script` the page's own code."""
    hashes = " 'none'"
    if script:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        hashes = f" 'sha256-{digest}'"
    policy = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src{hashes}; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}" + (f"<script>{script}</script>" if script else "") + "</body></html>\n"
    )


CSS = (
    """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7fb;--card:#fff;--navy:#273248}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;background:var(--bg);color:var(--ink);
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;
 font-size:13px}
header.top{background:var(--navy);color:#fff;padding:22px 32px 18px}
header.top h1{margin:0 0 6px;font-size:22px;font-weight:650;letter-spacing:.2px}
header.top .meta{color:#cbd5e1;font-size:14px;display:flex;flex-wrap:wrap;gap:6px 18px}
header.top code{color:#fff;background:rgba(255,255,255,.1);padding:1px 6px;border-radius:4px}
.outcome{display:inline-block;margin-top:12px;padding:4px 12px;border-radius:999px;
 font-weight:650;font-size:14px}
.outcome.bad{background:#fee2e2;color:#991b1b}.outcome.good{background:#dcfce7;color:#166534}
main{max-width:1180px;margin:0 auto;padding:24px 24px 48px}
h2{font-size:18px;margin:30px 0 12px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(210px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card h3{margin:0 0 6px;font-size:12px;text-transform:uppercase;letter-spacing:.6px;
 color:var(--muted);font-weight:600}
.card .big{font-size:26px;font-weight:650}
.card ul{margin:0;padding-left:18px}
.card ul.probe{list-style:none;padding-left:0}
.yes{color:#166534}.no{color:#991b1b}
.sections{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 16px}
.secrow{display:grid;grid-template-columns:110px 1fr 150px;gap:12px;align-items:center;
 padding:5px 0}
.secrow .name{font-weight:600}
.secrow .tally{color:var(--muted);font-size:13px;text-align:right}
.bar{display:flex;height:16px;border-radius:5px;overflow:hidden;background:#eef0f4}
.bar span{display:block;height:100%}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:8px 0 2px;font-size:13px;color:var(--muted)}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:5px;
 vertical-align:-1px}
.badge{display:inline-block;min-width:58px;text-align:center;padding:1px 8px;border-radius:5px;
 color:#fff;font-size:12px;font-weight:650;letter-spacing:.3px}
"""
    + "".join(f".v-{name}{{background:{colour}}}" for name, colour in VERDICT_COLOURS.items())
    + """
.failure{background:var(--card);border:1px solid var(--line);border-left:5px solid #dc2626;
 border-radius:10px;padding:16px 18px;margin:0 0 18px}
.failure.v-non-strict-box{border-left-color:#d97706}
.failure.v-informational-box{border-left-color:#2563eb}
.failure h3{margin:0 0 4px;font-size:16px;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.failure .case{color:var(--muted);font-size:13px;word-break:break-all}
blockquote{margin:10px 0;padding:8px 14px;background:#f8fafc;border-left:3px solid #94a3b8;
 color:#334155}
.eg{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:10px 0}
.eg div{border-radius:8px;padding:8px 12px}
.eg .exp{background:#ecfdf5;border:1px solid #a7f3d0}
.eg .got{background:#fef2f2;border:1px solid #fecaca}
.eg b{display:block;font-size:12px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted)}
.eg b span{text-transform:none;letter-spacing:0;font-weight:500}
pre{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:8px;overflow-x:auto;
 white-space:pre-wrap;word-break:break-all;margin:6px 0}
.diagram{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:#fff;
 padding:6px;margin:8px 0}
.label{font-size:12px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted);
 font-weight:600;margin-top:12px}
.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:center;margin:0 0 10px}
.filters label{font-size:13px;cursor:pointer;user-select:none}
.filters select{font:inherit;font-size:13px;padding:2px 6px}
table.rules{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);
 border-radius:10px;overflow:hidden}
table.rules th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.5px;
 color:var(--muted);background:#f9fafb;padding:8px 10px;border-bottom:1px solid var(--line)}
table.rules td{padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top;
 font-size:14px}
table.rules td.id{white-space:nowrap;font-weight:600}
table.rules td.cases{white-space:nowrap;color:var(--muted);font-size:13px}
table.rules tr.v-row-fail td.id{color:#b91c1c}
.muted{color:var(--muted)}
.small{font-size:12px;color:var(--muted);overflow-wrap:anywhere;margin-top:4px}
td code,blockquote code{background:#eef2f7;padding:0 4px;border-radius:4px;font-size:12.5px}
table.rules a{color:#b91c1c}
details.more{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:10px 16px;margin:0 0 18px}
details.more summary{cursor:pointer;font-weight:600}
details.more li{margin:6px 0;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12px;margin-top:36px}
@media (max-width:720px){.eg{grid-template-columns:1fr}.secrow{grid-template-columns:80px 1fr}
 .secrow .tally{display:none}}
"""
)
