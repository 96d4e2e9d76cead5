"""The report as a document: a list of blocks, each a tuple whose first item
names its kind, rendered to Markdown (render_md) and to self-contained HTML
(render_html, images inlined as data: URIs, headings with anchors).

  ("h", level, text)                       h()
  ("p", text)                              para()
  ("ul", [text])                           bullets()
  ("table", header, rows, align, fold)     table()
  ("img", name, caption)                   image(): plots/NAME.png and .svg
  ("toc", [heading])                       toc(): links to level-2 headings

Text may hold the little Markdown the report uses: `code`, **bold** and
[text](#anchor).
"""
import base64
import html
import os
import re

from sblib.util import write_atomic


def h(level, text):
    return ("h", level, text)


def para(text):
    return ("p", text)


def bullets(items):
    return ("ul", list(items))


def table(header, rows, align=None, fold=None):
    """A table; FOLD: a one-line summary under which HTML folds it away (long
    reference tables a reader opens when they need them)."""
    return ("table", header, rows, align, fold)


def image(name, caption):
    return ("img", name, caption)


def toc(titles):
    """A contents list linking to the headings TITLES."""
    return ("toc", list(titles))


def slug(text):
    """A heading's anchor, as forges make them from Markdown headings: lower
    case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def render_md(blocks):
    out = []
    for b in blocks:
        if b[0] == "h":
            out.append("#" * b[1] + " " + b[2])
        elif b[0] == "p":
            out.append(" ".join(b[1].split("\n")))
        elif b[0] == "ul":
            out.extend("- " + " ".join(i.split("\n")) for i in b[1])
        elif b[0] == "table":
            _, header, rows, align, _ = b
            align = align or ["l"] + ["r"] * (len(header) - 1)
            cell = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
            out.append("| " + " | ".join(cell(c) for c in header) + " |")
            out.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
            for r in rows:
                out.append("| " + " | ".join(cell(c) for c in r) + " |")
        elif b[0] == "toc":
            out.append("**Contents**")
            out.append("")
            out.extend(f"- [{t.replace('`', '')}](#{slug(t)})" for t in b[1])
        elif b[0] == "img":
            out.append(f"![{b[2]}](plots/{b[1]}.png)  ")
            out.append(f"*{b[2]}* ([SVG](plots/{b[1]}.svg))")
        out.append("")
    return "\n".join(out)


def _inline_md(text):
    """The little Markdown the report uses (`code`, **bold**, [text](#anchor)) as HTML."""
    t = re.sub(r"\[([^\]]+)\]\((#[\w-]+)\)", r'<a href="\2">\1</a>', html.escape(text))
    parts = t.split("`")
    for i in range(1, len(parts), 2):
        parts[i] = "<code>" + parts[i] + "</code>"
    t = "".join(parts)
    parts = t.split("**")
    for i in range(1, len(parts), 2):
        parts[i] = "<b>" + parts[i] + "</b>"
    return "".join(parts)


CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:.2em .55em}
th{background:#f1f1f1}td.r{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f4f4f4;padding:0 .2em}figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-style:italic;color:#555}h1{border-bottom:2px solid #333}h2{border-bottom:1px solid #aaa;margin-top:1.6em}"""


def render_html(blocks, title, plots_dir):
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"]
    ids = {}
    for b in blocks:
        if b[0] == "h":
            a = slug(b[2])
            ids[a] = ids.get(a, -1) + 1
            a += f"-{ids[a]}" if ids[a] else ""
            out.append(f'<h{b[1]} id="{a}">{_inline_md(b[2])}</h{b[1]}>')
        elif b[0] == "toc":
            out.append('<nav><b>Contents</b><ul>' + "".join(
                f'<li><a href="#{slug(t)}">{_inline_md(t)}</a></li>' for t in b[1])
                + "</ul></nav>")
        elif b[0] == "p":
            out.append(f"<p>{_inline_md(b[1])}</p>")
        elif b[0] == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_md(i)}</li>" for i in b[1]) + "</ul>")
        elif b[0] == "table":
            _, header, rows, align, fold = b
            align = align or ["l"] + ["r"] * (len(header) - 1)
            if fold:
                out.append(f"<details><summary>{_inline_md(fold)}</summary>")
            out.append("<table><tr>" + "".join(f"<th>{_inline_md(str(c))}</th>" for c in header)
                       + "</tr>")
            for r in rows:
                out.append("<tr>" + "".join(
                    f'<td class="{a}">{_inline_md(str(c))}</td>' for c, a in zip(r, align))
                    + "</tr>")
            out.append("</table>" + ("</details>" if fold else ""))
        elif b[0] == "img":
            svg = os.path.join(plots_dir, b[1] + ".svg")
            png = os.path.join(plots_dir, b[1] + ".png")
            src = None
            if os.path.exists(svg):
                with open(svg, "rb") as f:
                    src = "data:image/svg+xml;base64," + base64.b64encode(f.read()).decode()
            elif os.path.exists(png):
                with open(png, "rb") as f:
                    src = "data:image/png;base64," + base64.b64encode(f.read()).decode()
            if src:
                out.append(f'<figure><img alt="{html.escape(b[2])}" src="{src}">'
                           f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def write_file(path, text):
    """Write TEXT to PATH whole or not at all (a temporary file renamed over it)."""
    write_atomic(path, text)


def title(path):
    """The title of the report of the results directory PATH."""
    return f"sandbench report: {os.path.basename(os.path.normpath(path))}"


def write(path, blocks):
    """BLOCKS as PATH/report.md and PATH/report.html (its images from PATH/plots)."""
    write_file(os.path.join(path, "report.md"), render_md(blocks))
    write_file(os.path.join(path, "report.html"),
               render_html(blocks, title(path), os.path.join(path, "plots")))
