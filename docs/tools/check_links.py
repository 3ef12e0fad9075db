#!/usr/bin/env python3
"""Every internal link of the built book resolves: the file exists and, when the link has a
fragment, the target page has an element with that id. External links are not fetched.

    docs/tools/check_links.py docs/book
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

SKIP_SCHEMES = {"http", "https", "mailto", "javascript", "data", "tel"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) is not None and tag in ("a", "img", "link", "script", "object", "iframe", "source"):
                self.links.append((tag, a[key], self.getpos()[0]))


def main(book):
    book = Path(book).resolve()
    pages = {}
    for p in book.rglob("*.html"):
        parser = Page()
        parser.feed(p.read_text(encoding="utf-8"))
        pages[p] = parser
    errors = []
    checked = 0
    for page, parser in sorted(pages.items()):
        for tag, url, line in parser.links:
            parts = urlsplit(url)
            if parts.scheme in SKIP_SCHEMES or url.startswith("//"):
                continue
            checked += 1
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(book)}:{line}"
            if not target.exists():
                errors.append(f"{where}: broken link {url!r} ({target} does not exist)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    errors.append(f"{where}: broken anchor {url!r} (no id {parts.fragment!r} in {target.relative_to(book)})")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"links: {len(errors)} broken of {checked} internal links in {len(pages)} pages", file=sys.stderr)
        return 1
    print(f"links: {checked} internal links in {len(pages)} pages, all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/book"))
