#!/usr/bin/python3
"""Every internal link and #anchor of the built site resolves.

    check-links.py BUILD/site

Reads every .html page (the copied API reference under api/ included, as a
target, but its own links are gi-docgen's business), collects the ids each
page defines, and checks every href and src that is not an external URL:
the file exists and, with a #fragment, the fragment is an id in it. Also
checks the Atom feed's links and that the search index names only pages
and anchors that exist. Exits 1 listing each broken reference.
"""

import json
import os
import re
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value and (name == "id" or
                                                     tag == "a"):
                self.ids.add(value)
            elif name in ("href", "src") and value is not None:
                self.refs.append((tag, value))
            elif name == "srcset" and value:
                for part in value.split(","):
                    self.refs.append((tag, part.strip().split(" ")[0]))


def external(url):
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "mailto", "data", "tag")


def main():
    top = sys.argv[1]
    pages = {}
    for root, _, files in os.walk(top):
        for f in files:
            if f.endswith(".html"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, top)
                p = Page()
                with open(path, encoding="utf-8") as fh:
                    p.feed(fh.read())
                pages[rel] = p
    broken = []
    checked = 0

    def resolve(src_rel, url):
        nonlocal checked
        if not url or external(url):
            return
        checked += 1
        parts = urlsplit(url)
        target = src_rel if not parts.path else os.path.normpath(
            os.path.join(os.path.dirname(src_rel), unquote(parts.path)))
        if target.startswith(".."):
            broken.append("%s: %s leaves the site" % (src_rel, url))
            return
        full = os.path.join(top, target)
        if os.path.isdir(full):
            target = os.path.join(target, "index.html")
            full = os.path.join(top, target)
        if not os.path.exists(full):
            broken.append("%s: %s: no file %s" % (src_rel, url, target))
            return
        frag = unquote(parts.fragment)
        if frag and target in pages and frag not in pages[target].ids:
            broken.append("%s: %s: no id '%s' in %s"
                          % (src_rel, url, frag, target))

    for rel, p in sorted(pages.items()):
        if rel.startswith("api" + os.sep):
            continue
        for tag, url in p.refs:
            resolve(rel, url)

    atom = os.path.join(top, "atom.xml")
    with open(atom, encoding="utf-8") as fh:
        for url in re.findall(r'<link[^>]*href="([^"]+)"', fh.read()):
            resolve("atom.xml", url)
    with open(os.path.join(top, "search-index.json"), encoding="utf-8") as fh:
        for page in json.load(fh):
            resolve("search-index.json", page["u"])
            for sec in page["s"]:
                resolve("search-index.json", sec["u"])

    for b in broken:
        print("broken:", b)
    print("check-links: %d pages, %d references, %d broken"
          % (len(pages), checked, len(broken)))
    return 1 if broken or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
