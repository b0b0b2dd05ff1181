"""Check the built site's own links: every internal href, src and #anchor must resolve.

    python docs/check_links.py build/docs/html

Sphinx's ``linkcheck`` builder checks external links (it needs the network: ``make docs``
runs it only with ``DOCS_LINKCHECK_EXTERNAL=1``); this checks what it does not, offline, in
the HTML as built: a link to a page or file of the site that is missing, an anchor that no
element of its page carries (a heading renamed, a `{ref}` to a label that moved), and an asset
loaded from outside the site (a CDN), which would break the site offline. Exit code 1, with
one line per broken link, if any is found.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

# Assets a page loads (not links a reader follows): these must come from the site itself.
ASSET_TAGS = {"script", "img", "iframe", "source", "video", "audio"}
ASSET_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, bool, str]] = []  # (tag, loaded as an asset, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        rels = set((dict(attrs).get("rel") or "").lower().split())
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            if name in ("href", "src"):
                asset = tag in ASSET_TAGS or (tag == "link" and bool(rels & ASSET_RELS))
                self.links.append((tag, asset, value))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def check(site: Path) -> list[str]:
    pages = {path.resolve(): parse(path) for path in site.rglob("*.html")
             if "_static" not in path.relative_to(site).parts}  # the theme's templates
    problems = []
    for path, page in sorted(pages.items()):
        where = path.relative_to(site.resolve())
        for tag, asset, url in page.links:
            problem = check_link(site.resolve(), path, pages, tag, asset, url)
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


def check_link(site: Path, page: Path, pages: dict[Path, Page], tag: str, asset: bool,
               url: str) -> str | None:
    if url.startswith(("mailto:", "javascript:", "data:")):
        return None
    if is_external(url):
        if asset:
            return f"<{tag}> loads {url!r} from outside the site"
        return None  # an external link: Sphinx's linkcheck checks those
    target, anchor = urldefrag(url)
    target = unquote(urlsplit(target).path)
    resolved = page if not target else (page.parent / target).resolve()
    if resolved.is_dir():
        resolved = resolved / "index.html"
    if site not in resolved.parents and resolved != site:
        return f"{url!r} leaves the site"
    if not resolved.exists():
        return f"{url!r}: no such file {resolved.relative_to(site)}"
    if anchor and resolved.suffix == ".html":
        ids = pages[resolved].ids if resolved in pages else parse(resolved).ids
        if unquote(anchor) not in ids:
            return f"{url!r}: no anchor #{anchor} in {resolved.relative_to(site)}"
    return None


def main() -> None:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "build/docs/html")
    if not (site / "index.html").exists():
        sys.exit(f"check_links: {site}/index.html is missing; build the site first (make docs)")
    problems = check(site)
    for problem in problems:
        print(problem)
    pages = len([path for path in site.rglob("*.html") if "_static" not in path.parts])
    if problems:
        sys.exit(f"check_links: {len(problems)} broken internal link(s) in {pages} pages")
    print(f"check_links: every internal link and anchor of {pages} pages resolves, "
          "and no page loads an asset from outside the site")


if __name__ == "__main__":
    main()
