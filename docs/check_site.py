"""Look at the built documentation site in a real browser, and check what a reader would trip on.

Usage (after ``python -m sphinx -W -b html docs docs/_build/html``)::

    python docs/check_site.py docs/_build/html screenshots/

It serves the built site on a local port and, with headless Chromium (Debian's ``chromium``; give another
binary with ``--chromium``):

1. screenshots the landing page, the gallery index, one example and one API page (PNG files in the folder
   given, which is not part of the repository);
2. checks that every ``<img>`` of those pages loaded in the browser (``complete`` and a natural width > 0,
   lazy images forced to load), and that MathJax typeset every formula on them;

and, parsing the built HTML:

3. checks that every page of the site can be reached from the landing page through navigation alone
   (navigation bars, sidebars, toctrees, previous/next links, gallery thumbnails, API summary tables);
4. checks that every internal link resolves: the file exists and its ``#fragment`` is an ``id`` there.

It prints one line per check and exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

from bs4 import BeautifulSoup

# pages a reader reaches from the search box or the index, not from the navigation
NOT_IN_NAVIGATION = {"genindex.html", "search.html", "py-modindex.html"}
SKIP_PREFIXES = ("_static/", "_sources/", "_images/", "_downloads/", "_modules/")
NAVIGATION = [
    "nav",
    ".bd-sidebar-primary",
    ".bd-header",
    ".toctree-wrapper",
    ".prev-next-area",
    ".sphx-glr-thumbcontainer",
    "table.autosummary",
    ".sd-card",
]
SCREENSHOTS = {
    "landing": "index.html",
    "gallery": "auto_examples/index.html",
    "example": "auto_examples/model_dopamine/plot_06_neural_glm.html",
    "api": "api/generated/dopasoft.SoftQLambda.html",
}
# A page of our own, served beside the site (same origin), that loads a site page in a frame and reports
# whether each of its images loaded.
IMAGE_PROBE = """<!doctype html><html><body>
<iframe id="f" style="width:1400px;height:1000px" src="/{page}"></iframe><pre id="out">pending</pre>
<script>
const f = document.getElementById("f");
f.onload = async () => {{
  const d = f.contentDocument;
  const images = [...d.images];
  for (const im of images) {{ if (im.loading === "lazy") {{ im.loading = "eager"; im.src = im.src; }} }}
  await Promise.all(images.map(im => im.complete ? null : new Promise(r => {{ im.onload = im.onerror = r; }})));
  const w = f.contentWindow;
  if (w.MathJax && w.MathJax.startup) {{ await w.MathJax.startup.promise; }}
  const out = {{
    images: images.map(im => ({{src: im.getAttribute("src"), ok: im.complete && im.naturalWidth > 0}})),
    formulas: d.querySelectorAll(".math").length,
    typeset: d.querySelectorAll(".math mjx-container, mjx-container.MathJax").length,
  }};
  document.getElementById("out").textContent = JSON.stringify(out);
}};
</script></body></html>"""


def pages(site: Path) -> list[str]:
    """Every HTML page of the site, as a path relative to its root."""
    out = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if not rel.startswith(SKIP_PREFIXES):
            out.append(rel)
    return out


def _soup(site: Path, rel: str) -> BeautifulSoup:
    return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")


def _internal(rel: str, href: str) -> tuple[str, str] | None:
    """``(page, fragment)`` an internal link of page ``rel`` points at, or None for other sites."""
    if not href or urlparse(href).scheme in ("http", "https", "mailto", "javascript", "data"):
        return None
    target, fragment = urldefrag(urljoin(rel, href))
    return unquote(urlparse(target).path or rel), unquote(fragment)


def reachable(site: Path, start: str = "index.html") -> set[str]:
    """Pages reached from ``start`` following navigation links only."""
    seen, queue = {start}, deque([start])
    while queue:
        rel = queue.popleft()
        soup = _soup(site, rel)
        for region in soup.select(",".join(NAVIGATION)):
            for a in region.find_all("a", href=True):
                link = _internal(rel, a["href"])
                if link is None:
                    continue
                target = link[0]
                if target.endswith(".html") and target not in seen and (site / target).is_file():
                    seen.add(target)
                    queue.append(target)
    return seen


def broken_links(site: Path, all_pages: list[str]) -> list[str]:
    """Internal links whose file is missing or whose ``#fragment`` is not an id of the target."""
    ids: dict[str, set[str]] = {}
    broken = []
    for rel in all_pages:
        soup = _soup(site, rel)
        for tag in soup.find_all(["a", "img", "link", "script"]):
            href = tag.get("href") or tag.get("src")
            link = _internal(rel, href) if href else None
            if link is None:
                continue
            target, fragment = link
            if not (site / target).is_file():
                broken.append(f"{rel}: {href} (no file {target})")
                continue
            if fragment and target.endswith(".html"):
                if target not in ids:
                    ids[target] = {t["id"] for t in _soup(site, target).find_all(id=True)}
                if fragment not in ids[target]:
                    broken.append(f"{rel}: {href} (no id {fragment!r} in {target})")
    return broken


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.startswith("/__image_probe__/"):
            page = self.path[len("/__image_probe__/") :]
            body = IMAGE_PROBE.format(page=page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args) -> None:  # quiet
        pass


def _chromium(binary: str, profile: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. docs/_build/html")
    parser.add_argument("screenshots", type=Path, help="folder for the PNG screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        parser.error(f"{site} has no index.html: build the site first")
    args.screenshots.mkdir(parents=True, exist_ok=True)
    failures = 0

    handler = functools.partial(_Handler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory() as profile:
            for name, rel in SCREENSHOTS.items():
                if not (site / rel).is_file():
                    print(f"FAIL screenshot {name}: {rel} was not built")
                    failures += 1
                    continue
                png = (args.screenshots / f"{name}.png").resolve()
                _chromium(
                    args.chromium,
                    profile,
                    f"--screenshot={png}",
                    "--window-size=1400,1000",
                    "--virtual-time-budget=5000",
                    f"{root}/{rel}",
                )
                if not png.is_file() or png.stat().st_size < 10_000:
                    print(f"FAIL screenshot {name}: no image written for {rel}")
                    failures += 1
                else:
                    print(f"ok   screenshot {name}: {png} ({png.stat().st_size // 1024} KiB)")
                run = _chromium(
                    args.chromium,
                    profile,
                    "--dump-dom",
                    "--virtual-time-budget=10000",
                    f"{root}/__image_probe__/{rel}",
                )
                out = BeautifulSoup(run.stdout, "html.parser").find(id="out")
                try:
                    report = json.loads(out.get_text()) if out else None
                except json.JSONDecodeError:
                    report = None
                if report is None:
                    print(f"FAIL images of {rel}: the browser did not report ({run.stderr.strip()[-300:]})")
                    failures += 1
                    continue
                images = report["images"]
                if report["typeset"] < report["formulas"]:
                    print(f"FAIL math of {rel}: {report['typeset']} of {report['formulas']} formulas typeset")
                    failures += 1
                elif report["formulas"]:
                    print(f"ok   math of {rel}: all {report['formulas']} formulas typeset")
                bad = [im["src"] for im in images if not im["ok"]]
                if bad:
                    print(f"FAIL images of {rel}: {len(bad)} of {len(images)} did not load: {bad}")
                    failures += 1
                else:
                    print(f"ok   images of {rel}: all {len(images)} loaded")
    finally:
        server.shutdown()

    all_pages = pages(site)
    seen = reachable(site)
    lost = [p for p in all_pages if p not in seen and p not in NOT_IN_NAVIGATION]
    if lost:
        print(
            f"FAIL navigation: {len(lost)} of {len(all_pages)} pages are not reachable from the landing page:"
        )
        print("\n".join(f"       {p}" for p in lost))
        failures += 1
    else:
        print(f"ok   navigation: all {len(all_pages)} pages reachable from the landing page")
    broken = broken_links(site, all_pages)
    if broken:
        print(f"FAIL links: {len(broken)} broken internal links:")
        print("\n".join(f"       {b}" for b in broken[:50]))
        failures += 1
    else:
        print(f"ok   links: every internal link of {len(all_pages)} pages resolves")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
