#!/usr/bin/python3
"""Build vmhost's static website from the project's own documents.

    site/generate.py --srcdir TOP --outdir BUILD/site [--api-dir DIR]

Sources (one source per page, none written twice): README.md's sections,
docs/*.md, the man pages docs/*.[1-8] (through mandoc), NEWS.md, and the
GObject library's gi-docgen output when the build made it. site/site.toml
says which page sits in which docs panel. docs/website.md describes the
whole; the checks are in site/tests/.
"""

import argparse
import datetime
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from html.parser import HTMLParser
from string import Template

import markdown

HERE = os.path.dirname(os.path.abspath(__file__))
PANELS = ["Deployment and operation", "Application development",
          "Project development"]
PNG_SIZES = [96, 128, 192, 256]
MANIFEST = ".site-manifest"


# ---------------------------------------------------------------------------
# Markdown sources: small, code-aware rewrites before rendering

def code_lines(lines):
    """Yield (line, is_code) for markdown lines: fenced or indented code."""
    fence = None
    prev_blank = True
    prev_code = False
    for line in lines:
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            yield line, True
            prev_code, prev_blank = True, False
            continue
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fence = stripped[:3]
            yield line, True
            prev_code, prev_blank = True, False
            continue
        indented = line.startswith("    ") or line.startswith("\t")
        if indented and (prev_blank or prev_code) and not prev_list(line):
            yield line, True
            prev_code, prev_blank = True, False
            continue
        blank = not line.strip()
        yield line, False
        prev_blank = blank
        prev_code = prev_code and blank
    return


def prev_list(line):
    # An indented list item continues a list, it is not code.
    return bool(re.match(r"\s+([-*+]|\d+\.)\s", line))


def is_table_row(line):
    return line.lstrip().startswith("|") and line.rstrip().endswith("|")


def split_row(line):
    cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
    return [c.strip().replace("\\|", "|") for c in cells]


def is_separator(cells):
    return all(re.fullmatch(r":?-{1,}:?", c) for c in cells) and cells


def fix_tables(text):
    """Give a pipe table that lacks its |---| line one, so it renders."""
    out = []
    lines = text.split("\n")
    i = 0
    flags = list(code_lines(lines))
    while i < len(lines):
        line, code = flags[i]
        out.append(line)
        starts = (not code and is_table_row(line)
                  and (i == 0 or not is_table_row(lines[i - 1])))
        if starts and i + 1 < len(lines) and is_table_row(lines[i + 1]):
            if not is_separator(split_row(lines[i + 1])):
                out.append("|" + "---|" * len(split_row(line)))
        i += 1
    return "\n".join(out)


def rewrite_prose(text, fn):
    """Apply fn to the prose parts of markdown text (not code, not `spans`)."""
    out = []
    for line, code in code_lines(text.split("\n")):
        if code:
            out.append(line)
            continue
        parts = re.split(r"(`+[^`]*`+)", line)
        out.append("".join(p if p.startswith("`") else fn(p) for p in parts))
    return "\n".join(out)


def link_docs(text, targets):
    """Turn mentions of docs/NAME.md in prose into links to their pages."""
    def sub(prose):
        def one(m):
            page = targets.get(m.group(0))
            return "[%s](%s)" % (m.group(0), page) if page else m.group(0)
        return re.sub(r"(?<![\w/\[])(?:docs/[\w.-]+\.md|NEWS\.md)\b(?!\])",
                      one, prose)
    return rewrite_prose(text, sub)


def shift_headings(text, by):
    out = []
    for line, code in code_lines(text.split("\n")):
        if not code and re.match(r"#{2,6} ", line):
            line = line[by:]
        out.append(line)
    return "\n".join(out)


def title_and_body(text):
    """Split '# Title' off a markdown document."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return line[2:].strip(), "\n".join(lines[:i] + lines[i + 1:])
        if line.strip() and not re.fullmatch(r"\s*<!--.*-->\s*", line):
            break
    return None, text


def readme_sections(text):
    """README.md as {heading: body} for its '## ' sections, plus the intro."""
    sections = {}
    current = "_intro"
    buf = []
    for line, code in code_lines(text.split("\n")):
        if not code and line.startswith("## "):
            sections[current] = "\n".join(buf)
            current, buf = line[3:].strip(), []
        elif not code and line.startswith("# "):
            continue
        else:
            buf.append(line)
    sections[current] = "\n".join(buf)
    return sections


def first_sentence(text):
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if para and not para.startswith(("#", "|", "```", "    ")):
            plain = re.sub(r"[`*_]", "", para)
            m = re.match(r"(.+?[.:])(\s|$)", plain)
            return (m.group(1) if m else plain)[:160]
    return ""


# ---------------------------------------------------------------------------
# Rendering

class Rendered:
    def __init__(self, html_text, toc):
        self.html = html_text
        self.toc = toc  # [(level, id, text)]


def render_markdown(text, targets):
    text = fix_tables(text)
    text = link_docs(text, targets)
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        extension_configs={"toc": {
            "permalink": "\u00b6",
            "permalink_title": "Link to this section",
            "toc_depth": "2-3",
        }})
    body = md.convert(text)
    toc = []

    def walk(tokens):
        for t in tokens:
            toc.append((t["level"], t["id"], html.unescape(t["name"])))
            walk(t["children"])
    walk(md.toc_tokens)
    return Rendered(polish(body), toc)


def polish(body):
    """Scrollable blocks are reachable by keyboard; tables scroll alone."""
    body = body.replace("<pre>", '<pre tabindex="0">')
    body = re.sub(r"<table>", '<div class="table-wrap" tabindex="0">\n'
                  '<table>', body)
    body = body.replace("</table>", "</table>\n</div>")
    # python-markdown aligns cells with style attributes; use classes.
    body = re.sub(r' style="text-align: (left|right|center);"',
                  r' class="\1"', body)
    return body


def render_man(path):
    out = subprocess.run(["mandoc", "-T", "html", "-O", "fragment", path],
                         check=True, capture_output=True, text=True).stdout
    out = re.sub(r'<table class="(head|foot)">.*?</table>', "", out,
                 flags=re.S)
    out = re.sub(r'<p class="Pp">\s*</p>', "", out)
    out = re.sub(r"<br/>\n?", "\n", out)
    out = re.sub(r"<pre>\n+", "<pre>", out)
    out = out.replace("<pre>", '<pre tabindex="0">')
    toc = []
    used = set()

    def heading(m, level):
        text = html.unescape(re.sub(r"<[^>]+>", "", m.group(2)))
        ident = slug(text, used)
        shown = text.capitalize() if text.isupper() else text
        toc.append((level, ident, shown))
        return ('<h%d id="%s">%s<a class="headerlink" href="#%s" '
                'title="Link to this section">\u00b6</a></h%d>'
                % (level, ident, html.escape(shown), ident, level))
    out = re.sub(r'<h1 class="Sh" id="([^"]*)">(.*?)</h1>',
                 lambda m: heading(m, 2), out)
    out = re.sub(r'<h2 class="Ss" id="([^"]*)">(.*?)</h2>',
                 lambda m: heading(m, 3), out)
    return Rendered(out, toc)


def slug(text, used):
    base = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    base = re.sub(r"[\s]+", "-", base) or "section"
    ident, n = base, 1
    while ident in used:
        ident = "%s_%d" % (base, n)
        n += 1
    used.add(ident)
    return ident


def toc_html(toc):
    """The automatic table of contents: h2 entries with their h3s."""
    if len(toc) < 2:
        return ""
    items = []
    for level, ident, text in toc:
        entry = '<a href="#%s">%s</a>' % (ident, html.escape(text))
        if level <= 2 or not items:
            items.append([entry, []])
        else:
            items[-1][1].append(entry)
    parts = ['<nav class="toc" aria-labelledby="toc-h">',
             '<h2 id="toc-h">Contents</h2>', "<ul>"]
    for entry, subs in items:
        if subs:
            parts.append("<li>%s<ul>%s</ul></li>" % (
                entry, "".join("<li>%s</li>" % s for s in subs)))
        else:
            parts.append("<li>%s</li>" % entry)
    parts += ["</ul>", "</nav>"]
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# Search index: every page's text, by section

class TextExtractor(HTMLParser):
    SKIP = {"script", "style", "svg", "nav"}

    def __init__(self, page_title, url):
        super().__init__(convert_charrefs=True)
        self.sections = [[page_title, url, []]]
        self.url = url
        self.skip = 0
        self.in_heading = None
        self.in_permalink = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.SKIP:
            self.skip += 1
        elif tag in ("h2", "h3") and a.get("id") and not self.skip:
            self.in_heading = [tag, a["id"], []]
        elif tag == "a" and a.get("class") == "headerlink":
            self.in_permalink = True
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP or (tag == "a" and self.in_permalink):
            self.in_permalink = self.in_permalink and tag != "a"
            self.skip = max(0, self.skip - 1)
            return
        if self.in_heading and tag == self.in_heading[0]:
            _, ident, words = self.in_heading
            self.sections.append(["".join(words).strip(),
                                  "%s#%s" % (self.url, ident), []])
            self.in_heading = None

    def handle_data(self, data):
        if self.skip:
            return
        if self.in_heading is not None:
            self.in_heading[2].append(data)
        else:
            self.sections[-1][2].append(data)


def index_page(title, url, body):
    ex = TextExtractor(title, url)
    ex.feed(body)
    out = []
    for heading, href, words in ex.sections:
        text = " ".join("".join(words).split())
        if text or heading != title:
            out.append({"h": heading, "u": href, "x": text})
    return {"t": title, "u": url, "s": out}


# ---------------------------------------------------------------------------
# Charts: SVG bar charts from docs/performance.md's comparison tables

PEERS = [("vmhost", "vmhost"), ("qemu", "QEMU"), ("socat", "socat"),
         ("libvirtd", "libvirtd"), ("libvirt", "libvirtd")]
NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x?\s*(\([^)]*\))?\s*$")


def who(label):
    low = label.lower()
    for key, name in PEERS:
        if key in low:
            return name
    return "other"


def parse_tables(text):
    """Every pipe table of a markdown text: (end, title, header, rows).

    Robust to a missing |---| line, ragged rows and escaped pipes; tables in
    code blocks are ignored. The title is the heading in force, with the
    date of the run when the paragraph before the table names one."""
    tables = []
    heading = ""
    run = ""
    block = []
    lines = list(code_lines(text.split("\n")))
    for n, (line, code) in enumerate(lines + [("", False)]):
        if not code and is_table_row(line):
            block.append(split_row(line))
            continue
        if block:
            rows = [r for r in block if not is_separator(r)]
            if len(rows) >= 2:
                title = heading
                if run and run not in heading:
                    title = "%s, run of %s" % (heading, run)
                tables.append((n, title, rows[0], rows[1:]))
            block = []
        if code:
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            run = ""
        else:
            m = re.search(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}Z)?", line)
            if m:
                run = m.group(0)
    return tables


def number(cell):
    m = NUM.match(cell)
    return float(m.group(1)) if m else None


def lower_is_better(name):
    return bool(re.search(r"\b(us|ms|latency|downtime|cpu|rss)\b",
                          name.lower()))


def comparison(header, rows):
    """The chart a table makes, or None when it compares nothing.

    Two shapes: one row per implementation (bars of the first figure
    column, the other text columns added to the label), or one column per
    implementation (a group of bars per row, each row on its own scale)."""
    rows = [r + [""] * (len(header) - len(r)) for r in rows]
    if header[0].lower().startswith("ratio"):
        return None
    impl = [c for c in range(1, len(header)) if who(header[c]) != "other"
            and not header[c].lower().startswith("vs")
            and " / " not in header[c]]
    kinds = {who(header[c]) for c in impl}
    if "vmhost" in kinds and kinds & {"QEMU", "socat", "libvirtd"}:
        groups = []
        for r in rows:
            vals = [(header[c], number(r[c]), who(header[c])) for c in impl]
            if all(v is not None for _, v, _ in vals):
                groups.append((re.sub(r"[`*]", "", r[0]), vals))
        return {"groups": groups, "unit": "", "lower": None} \
            if groups else None
    metric = None
    for col in range(1, len(header)):
        if header[col].lower().startswith("vs"):
            continue
        vals = [number(r[col]) for r in rows]
        if rows and sum(v is not None for v in vals) >= 0.8 * len(rows):
            metric = col
            break
    if metric is None:
        return None
    labels = [c for c in range(1, len(header)) if c != metric and
              all(number(r[c]) is None for r in rows) and
              not header[c].lower().startswith("vs")]
    bars = []
    for r in rows:
        v = number(r[metric])
        if v is None:
            continue
        label = " · ".join([r[0]] + [r[c] for c in labels if r[c]])
        bars.append((re.sub(r"[`*]", "", label), v, who(r[0])))
    kinds = {b[2] for b in bars}
    if "vmhost" not in kinds or not kinds & {"QEMU", "socat", "libvirtd"}:
        return None
    unit = header[metric]
    groups = [(label, [(kind, v, kind)]) for label, v, kind in bars]
    return {"groups": groups, "unit": unit, "lower": lower_is_better(unit),
            "single": True}


def chart_svg(chart, ident, title):
    """Horizontal bars, each label above its bar and the value after it."""
    width, left, bar = 400, 2, 14
    single = chart.get("single")
    vmax_all = max(v for _, vals in chart["groups"] for _, v, _ in vals) or 1
    longest = max(len("%g" % v if single else "%g %s" % (v, name))
                  for _, vals in chart["groups"] for name, v, _ in vals)
    span = width - left - 8 - 7.5 * longest
    kinds = sorted({k for _, vals in chart["groups"] for _, _, k in vals},
                   key=lambda k: [p for _, p in PEERS].index(k)
                   if k != "other" else 99)
    out = []
    y = 34
    desc = []
    for label, vals in chart["groups"]:
        vmax = vmax_all if single else (max(v for _, v, _ in vals) or 1)
        lower = chart["lower"] if single else lower_is_better(label)
        text = label if single else "%s (%s is better)" % (
            label, "lower" if lower else "higher")
        out.append('<text class="lb" x="%d" y="%d">%s</text>'
                   % (left, y + 12, html.escape(text)))
        y += 19
        for name, v, k in vals:
            w = max(1, span * v / vmax)
            out.append('<rect class="k-%s" x="%d" y="%d" width="%.1f" '
                       'height="%d" rx="2"/>' % (k.lower(), left, y, w, bar))
            val = "%g" % v if single else "%g %s" % (v, name)
            out.append('<text class="val" x="%.1f" y="%d">%s</text>'
                       % (left + w + 5, y + 12, html.escape(val)))
            desc.append("%s: %s %g" % (label, name, v))
            y += bar + 4
        y += 8
    height = y + 4
    better = ""
    if single:
        better = "%s (%s is better)" % (
            chart["unit"], "lower" if chart["lower"] else "higher")
    head = ['<svg class="chart" role="img" viewBox="0 0 %d %d" '
            'aria-labelledby="%s-t %s-d">' % (width, height, ident, ident),
            '<title id="%s-t">%s</title>' % (ident, html.escape(title)),
            '<desc id="%s-d">%s</desc>' % (ident, html.escape(
                (better + ": " if better else "") + "; ".join(desc)))]
    x = left
    for k in kinds:
        head.append('<rect class="k-%s" x="%d" y="6" width="12" height="12" '
                    'rx="2"/>' % (k.lower(), x))
        head.append('<text class="lg" x="%d" y="16">%s</text>'
                    % (x + 16, html.escape(k)))
        x += 24 + 8 * len(k)
    if better:
        head.append('<text class="lg unit" x="%d" y="16" text-anchor="end">'
                    '%s</text>' % (width - 4, html.escape(better)))
    return "\n".join(head + out + ["</svg>"])


def add_charts(text):
    """Insert a marker after each comparison table; return text, charts."""
    lines = text.split("\n")
    charts = {}
    inserts = []
    for n, (end, title, header, rows) in enumerate(parse_tables(text)):
        chart = comparison(header, rows)
        if not chart:
            continue
        ident = "chart-%d" % (n + 1)
        charts[ident] = (chart, title)
        inserts.append((end, ident))
    for end, ident in reversed(inserts):
        lines[end:end] = ["", "<!--%s-->" % ident, ""]
    return "\n".join(lines), charts


def place_charts(body, charts):
    for ident, (chart, heading) in charts.items():
        title = "%s: %s" % (heading, chart["unit"]) if chart["unit"] \
            else heading
        fig = ('<figure class="chart" id="%s">\n%s\n<figcaption>%s. Drawn from the '
               'table above.</figcaption>\n</figure>'
               % (ident, chart_svg(chart, ident, title), html.escape(title)))
        body = body.replace("<!--%s-->" % ident, fig)
    return body


# ---------------------------------------------------------------------------
# NEWS.md

def parse_news(text, targets):
    """NEWS.md entries, newest first: '## DATE — TITLE' then the text."""
    entries = []
    used = set()
    _, body = title_and_body(text)
    chunks = re.split(r"^## ", body, flags=re.M)
    for chunk in chunks[1:]:
        head, _, rest = chunk.partition("\n")
        date = re.search(r"\d{4}-\d{2}-\d{2}", head)
        version = re.search(r"\bvmhost (\d+\.\d+(?:\.\d+)?)\b", head)
        title = re.sub(r"^\s*\d{4}-\d{2}-\d{2}\s*[—–-]\s*", "", head).strip()
        r = render_markdown(shift_headings(rest, 1), targets)
        first = re.search(r"<p>(.*?)</p>", r.html, re.S)
        entries.append({
            "date": date.group(0) if date else "",
            "version": version.group(1) if version else None,
            "title": title,
            "id": slug(title, used),
            "html": r.html,
            "summary": first.group(1) if first else "",
        })
    entries.sort(key=lambda e: e["date"], reverse=True)
    return entries


def atom_feed(entries):
    now = entries[0]["date"] if entries else "1970-01-01"
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom">',
           "<title>vmhost news</title>",
           '<link rel="alternate" type="text/html" href="news.html"/>',
           '<link rel="self" href="atom.xml"/>',
           "<id>tag:vmhost.invalid,2026:news</id>",
           "<updated>%sT00:00:00Z</updated>" % now,
           "<author><name>The vmhost developers</name></author>"]
    for e in entries:
        out += ["<entry>",
                "<title>%s</title>" % html.escape(e["title"]),
                '<link rel="alternate" type="text/html" href="news.html#%s"/>'
                % e["id"],
                "<id>tag:vmhost.invalid,2026:news/%s</id>" % e["id"],
                "<updated>%sT00:00:00Z</updated>" % (e["date"] or now),
                '<content type="html">%s</content>' % html.escape(e["html"]),
                "</entry>"]
    out.append("</feed>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# The site

class Site:
    def __init__(self, args):
        self.src = args.srcdir
        self.out = args.outdir
        self.api_dir = args.api_dir or find_api(args.api_search)
        with open(os.path.join(HERE, "site.toml"), "rb") as f:
            self.conf = tomllib.load(f)
        with open(os.path.join(HERE, "templates", "page.html")) as f:
            self.template = Template(f.read())
        self.version = project_version(self.src)
        self.built = datetime.date.today().isoformat()
        self.written = []
        self.index = []
        self.menu = {p: [] for p in PANELS}
        self.targets = {"NEWS.md": "news.html"}  # "docs/x.md" -> "x.html"

    def read(self, rel):
        with open(os.path.join(self.src, rel), encoding="utf-8") as f:
            return f.read()

    def write(self, rel, data, mode="w"):
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode, **({} if "b" in mode else
                                 {"encoding": "utf-8"})) as f:
            f.write(data)
        self.written.append(rel)

    def page(self, name, title, body, description, kind="doc",
             scripts="", index=True, current=None):
        cur = {k: "" for k in ("download", "contribute", "docs", "news")}
        if current in cur:
            cur[current] = ' aria-current="page"'
        full = title if title == "vmhost" else "%s · vmhost" % title
        text = self.template.substitute(
            title=html.escape(full), description=html.escape(description),
            root="", kind=kind, body=body, version=self.version,
            built=self.built, scripts=scripts,
            **{"cur_" + k: v for k, v in cur.items()})
        self.write(name + ".html", text)
        if index:
            self.index.append(index_page(title, name + ".html", body))

    def doc_page(self, name, title, rendered, description, lead="",
                 current=None):
        body = ['<article class="doc">', "<h1>%s</h1>" % html.escape(title)]
        if lead:
            body.append(lead)
        toc = toc_html(rendered.toc)
        body.append('<div class="doc-grid%s">' % (" has-toc" if toc else ""))
        body.append(toc)
        body.append('<div class="content">\n%s\n</div>' % rendered.html)
        body += ["</div>", "</article>"]
        self.page(name, title, "\n".join(body), description,
                  current=current)

    # -- the pages made from documents ------------------------------------

    def docs_pages(self):
        docs = sorted(f for f in os.listdir(os.path.join(self.src, "docs"))
                      if f.endswith(".md"))
        conf = self.conf.get("doc", {})
        for f in docs:
            stem = f[:-3]
            self.targets["docs/" + f] = conf.get(stem, {}).get(
                "page", stem) + ".html"
        for f in docs:
            stem = f[:-3]
            c = conf.get(stem, {})
            text = self.read("docs/" + f)
            title, body = title_and_body(text)
            title = title or stem
            name = c.get("page", stem)
            line = c.get("line") or first_sentence(body)
            charts = {}
            if stem == "performance":
                body, charts = add_charts(body)
            r = render_markdown(body, self.targets)
            if charts:
                r.html = place_charts(r.html, charts)
            self.doc_page(name, title, r, line, current=name)
            self.menu[c.get("panel", PANELS[2])].append(
                (conf_order(conf, stem), name + ".html",
                 c.get("menu", title), line))

    def readme_pages(self):
        sections = readme_sections(self.read("README.md"))
        self.readme = sections
        for c in self.conf.get("readme", []):
            key = next((k for k in sections if k.startswith(c["section"])),
                       None)
            if key is None:
                print("site: README.md has no section '%s'; page %s skipped"
                      % (c["section"], c["page"]), file=sys.stderr)
                continue
            r = render_markdown(shift_headings(sections[key], 1),
                                self.targets)
            self.doc_page(c["page"], c["title"], r, c["line"])
            self.menu[c["panel"]].append(
                (-1, c["page"] + ".html", c["title"], c["line"]))

    def man_pages(self):
        conf = self.conf.get("man", {})
        mans = sorted(f for f in os.listdir(os.path.join(self.src, "docs"))
                      if re.fullmatch(r"[\w.-]+\.[1-8]", f))
        for f in mans:
            c = conf.get(f, {})
            r = render_man(os.path.join(self.src, "docs", f))
            name, section = f.rsplit(".", 1)
            title = "%s(%s)" % (name, section)
            line = c.get("line") or "The %s manual page." % title
            self.doc_page(f, title, r, line, lead='<p class="lead">The '
                          'manual page, as <code>man %s %s</code> shows it.'
                          '</p>' % (section, name))
            self.menu[c.get("panel", PANELS[0])].append(
                (50, f + ".html", title, line))

    def api_page(self):
        c = self.conf["api"]
        src = self.api_dir
        if src and os.path.isfile(os.path.join(src, "index.html")):
            dest = os.path.join(self.out, "api")
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest)
            for root, _, files in os.walk(dest):
                for f in files:
                    self.written.append(os.path.relpath(
                        os.path.join(root, f), self.out))
            body = ('<p>The reference is generated by gi-docgen from the '
                    'library\'s own doc comments: <a href="api/index.html">'
                    'open the libvmhost-gobject API reference</a>.</p>')
        else:
            body = ('<p>This build has no API reference: '
                    'libvmhost-gobject\'s reference is generated by '
                    'gi-docgen from its doc comments, and appears here when '
                    'the build makes it (the library is being written now). '
                    'Until then, the C library\'s public headers document '
                    'every call; see <a href="library.html">the library'
                    '</a>.</p>')
        article = ('<article class="doc"><h1>%s</h1>\n%s\n</article>'
                   % (html.escape(c["title"]), body))
        self.page("api", c["title"], article, c["line"])
        self.menu[c["panel"]].append((90, "api.html", c["title"], c["line"]))

    # -- the site's own pages ---------------------------------------------

    def news_pages(self):
        path = os.path.join(self.src, "NEWS.md")
        text = self.read("NEWS.md") if os.path.exists(path) else "# NEWS\n"
        self.news = parse_news(text, self.targets)
        parts = ['<article class="doc news">', "<h1>News</h1>",
                 '<p class="lead">What changed, newest first, from the '
                 'project\'s NEWS file. Also as an '
                 '<a href="atom.xml">Atom feed</a>.</p>']
        for e in self.news:
            parts.append('<section class="entry">')
            parts.append('<h2 id="%s">%s<a class="headerlink" href="#%s" '
                         'title="Link to this section">\u00b6</a></h2>'
                         % (e["id"], html.escape(e["title"]), e["id"]))
            parts.append('<p class="date"><time datetime="%s">%s</time></p>'
                         % (e["date"], e["date"]))
            parts.append(e["html"])
            parts.append("</section>")
        parts.append("</article>")
        self.page("news", "News", "\n".join(parts),
                  "vmhost's news: releases and milestones, newest first.",
                  current="news")
        self.write("atom.xml", atom_feed(self.news))

    def front_page(self):
        c = self.conf
        quick = self.readme.get(next(
            (k for k in self.readme if k.startswith("Quick start")), ""), "")
        quick_r = render_markdown(quick.split("\n\n")[0] + "\n\n" +
                                  "\n\n".join(quick.split("\n\n")[1:2]),
                                  self.targets)
        cards = "\n".join(
            '<li><a href="%s"><h3>%s</h3><p>%s</p></a></li>'
            % (s["href"], html.escape(s["title"]), html.escape(s["line"]))
            for s in c["service"])
        news = "\n".join(
            '<li><a href="news.html#%s">%s</a> <time datetime="%s">%s</time>'
            '<p>%s</p></li>' % (e["id"], html.escape(e["title"]), e["date"],
                                e["date"], e["summary"])
            for e in self.news[:3])
        body = """<div class="hero">
<h1><img src="logo/vmhost.svg" alt="" width="72" height="72"> {title}</h1>
<p class="tagline">{tagline}</p>
<p class="intro">{intro}</p>
<p class="cta"><a class="button" href="download.html">Download and build</a>
<a class="button alt" href="docs.html">Read the docs</a></p>
</div>
<section aria-labelledby="services-h">
<h2 id="services-h">The five services</h2>
<ul class="cards">
{cards}
</ul>
</section>
<div class="two">
<section aria-labelledby="quick-h">
<h2 id="quick-h">Quick start</h2>
{quick}
<p>More in <a href="download.html#build-from-source">build from
source</a>; every program in <a href="programs.html">the programs</a>.</p>
</section>
<section aria-labelledby="news-h">
<h2 id="news-h">Latest news</h2>
<ul class="news-list">
{news}
</ul>
<p><a href="news.html">All news</a> · <a href="atom.xml">Atom feed</a></p>
</section>
</div>""".format(title=html.escape(c["title"]),
                 tagline=html.escape(c["tagline"]),
                 intro=" ".join(html.escape(s) for s in c["intro"]),
                 cards=cards, quick=quick_r.html, news=news)
        self.page("index", "vmhost", body, c["intro"][0], kind="front")

    def docs_menu(self):
        parts = ['<h1>Documentation</h1>',
                 '<p class="lead">Every page of the documentation, in three '
                 'panels. Each page has its own table of contents; the '
                 'search box finds any word in any of them.</p>',
                 '<div class="panels">']
        for panel in PANELS:
            ident = slug(panel, set())
            parts.append('<section class="panel" aria-labelledby="%s">'
                         % ident)
            parts.append('<h2 id="%s">%s</h2>' % (ident, panel))
            parts.append("<dl>")
            for _, href, title, line in sorted(self.menu[panel],
                                               key=lambda m: m[0]):
                parts.append('<dt><a href="%s">%s</a></dt><dd>%s</dd>'
                             % (href, html.escape(title), html.escape(line)))
            parts.append("</dl></section>")
        parts.append("</div>")
        self.page("docs", "Documentation", "\n".join(parts),
                  "vmhost's documentation: deployment and operation, "
                  "application development, project development.",
                  current="docs")

    def download_page(self):
        releases = [e for e in self.news if e["version"]]
        rows = "\n".join(
            '<tr><td>%s</td><td><time datetime="%s">%s</time></td>'
            '<td><a href="news.html#%s">%s</a></td></tr>'
            % (e["version"], e["date"], e["date"], e["id"],
               html.escape(e["title"])) for e in releases)
        upcoming = [e for e in self.news if not e["version"]][:1]
        nxt = ("<p>Since then: <a href=\"news.html#%s\">%s</a>."
               "</p>" % (upcoming[0]["id"], html.escape(upcoming[0]["title"]))
               if upcoming and releases and
               upcoming[0]["date"] >= releases[0]["date"] else "")
        mods = "\n".join('<tr><td><code>%s</code></td><td>%s</td><td>%s</td>'
                         '</tr>' % (m["name"], m["kind"],
                                    html.escape(m["what"]))
                         for m in self.conf["module"])
        quick = self.readme.get(next(
            (k for k in self.readme if k.startswith("Quick start")), ""), "")
        quick_r = render_markdown(quick, self.targets)
        body = """<article class="doc">
<h1>Download</h1>
<p class="lead">vmhost is distributed as source: a git repository, built
on Debian 12 with Meson. Releases are commits named in the news.</p>
<h2 id="releases">Releases<a class="headerlink" href="#releases" title="Link to this section">\u00b6</a></h2>
<div class="table-wrap" tabindex="0">
<table>
<thead><tr><th>version</th><th>date</th><th>what it brought</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</div>
{nxt}
<h2 id="git">Git<a class="headerlink" href="#git" title="Link to this section">\u00b6</a></h2>
<p>Clone the project's repository (<code>git clone URL vmhost</code>) and
check out <code>main</code>; every release is a commit on it. A fresh clone
is all a build needs: the Debian packages come from
<code>scripts/install-deps</code>.</p>
<h2 id="whats-in-it">What a release contains<a class="headerlink" href="#whats-in-it" title="Link to this section">\u00b6</a></h2>
<div class="table-wrap" tabindex="0">
<table>
<thead><tr><th>module</th><th>kind</th><th>what it is</th></tr></thead>
<tbody>
{mods}
</tbody>
</table>
</div>
<h2 id="build-from-source">Build from source<a class="headerlink" href="#build-from-source" title="Link to this section">\u00b6</a></h2>
{quick}
</article>""".format(rows=rows, nxt=nxt, mods=mods, quick=quick_r.html)
        self.page("download", "Download", body,
                  "Get vmhost: releases, the git repository, and building "
                  "from source with two commands.", current="download")

    def search_page(self):
        body = """<article class="doc">
<h1>Search</h1>
<form class="search-big" action="search.html" method="get">
<label for="q2">Words to find in every page</label>
<input id="q2" name="q" type="search" autocomplete="off">
<button type="submit">Search</button>
</form>
<p id="search-status" role="status" aria-live="polite"></p>
<ol id="results" class="results"></ol>
<noscript><p>Search runs in the browser and needs JavaScript; every page is
also listed on <a href="docs.html">the docs page</a>.</p></noscript>
</article>"""
        self.page("search", "Search", body,
                  "Search every page of vmhost's website.", index=False,
                  scripts='<script src="search.js" defer></script>\n')

    def contribute_alias(self):
        if not os.path.exists(os.path.join(self.out, "contribute.html")):
            sys.exit("site: docs/contributing.md is missing: the header "
                     "links to contribute.html")

    # -- files -------------------------------------------------------------

    def static(self):
        for f in ("style.css", "search.js"):
            with open(os.path.join(HERE, "static", f), encoding="utf-8") as s:
                self.write(f, s.read())
        logo = os.path.join(HERE, "logo")
        for f in sorted(os.listdir(logo)):
            if f.endswith(".svg"):
                with open(os.path.join(logo, f), encoding="utf-8") as s:
                    self.write("logo/" + f, s.read())
        for size in PNG_SIZES:
            rel = "logo/vmhost-%d.png" % size
            subprocess.run(["rsvg-convert", "-w", str(size), "-h", str(size),
                            "-o", os.path.join(self.out, rel),
                            os.path.join(logo, "vmhost.svg")], check=True)
            self.written.append(rel)
        self.write("robots.txt", "User-agent: *\nAllow: /\n")

    def page_list(self):
        """pages.txt: the site's own pages, one a line (the checks read it)."""
        pages = sorted(p for p in self.written if p.endswith(".html")
                       and not p.startswith("api/"))
        self.write("pages.txt", "\n".join(pages) + "\n")

    def clean_stale(self):
        """Remove what an earlier build wrote and this one did not."""
        path = os.path.join(self.out, MANIFEST)
        if os.path.exists(path):
            with open(path) as f:
                old = set(f.read().split("\n")) - {""}
            for rel in old - set(self.written):
                try:
                    os.unlink(os.path.join(self.out, rel))
                except FileNotFoundError:
                    pass
        with open(path, "w") as f:
            f.write("\n".join(sorted(self.written)) + "\n")

    def build(self):
        os.makedirs(self.out, exist_ok=True)
        self.readme_pages()
        self.docs_pages()
        self.man_pages()
        self.api_page()
        self.news_pages()
        self.front_page()
        self.docs_menu()
        self.download_page()
        self.search_page()
        self.contribute_alias()
        self.static()
        self.write("search-index.json",
                   json.dumps(self.index, ensure_ascii=False,
                              separators=(",", ":")))
        self.page_list()
        self.clean_stale()


def find_api(top):
    """gi-docgen's output: DIR/index.html or DIR/*/index.html, if built."""
    if not top or not os.path.isdir(top):
        return None
    for cand in [top] + sorted(os.path.join(top, d) for d in os.listdir(top)):
        if os.path.isfile(os.path.join(cand, "index.html")):
            return cand
    return None


def conf_order(conf, stem):
    keys = list(conf)
    return keys.index(stem) if stem in keys else 100


def project_version(src):
    with open(os.path.join(src, "meson.build"), encoding="utf-8") as f:
        m = re.search(r"version:\s*'([^']+)'", f.read())
    return m.group(1) if m else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--api-dir", default=None,
                    help="gi-docgen's output directory (with index.html)")
    ap.add_argument("--api-search", default=None,
                    help="a directory to look in for gi-docgen's output")
    ap.add_argument("--stamp", default=None,
                    help="file to touch when done (for the build system)")
    args = ap.parse_args()
    Site(args).build()
    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("")


if __name__ == "__main__":
    main()
