"""Link inline code that names a public dopasoft function or class to its API page.

The user-guide pages are markdown that reads on GitHub too, where ``ds.fitting.fit`` or ``neural_glm(...)``
can only be code. In the site, such code becomes a link to the name's page of the API reference: a
qualified name (``ds.fitting.fit``, ``dopasoft.analysis.neural_glm``, with or without a call's arguments),
or a bare name that is public in exactly one package and cannot be an ordinary word (it has an underscore,
or is a class name such as ``SoftQLambda``). ``action_term`` is also the name of a column of every replay and
simulation table, which the pages mean far more often than the function: bare, it is linked only as a call,
``action_term(q, tau)``.
"""

from __future__ import annotations

import functools
import importlib
import re

from docutils import nodes

PACKAGES = ("dopasoft", "dopasoft.tasks", "dopasoft.fitting", "dopasoft.analysis", "dopasoft.experiments")
EXTRA = {"dopasoft": ["simulate"]}
ALSO_COLUMNS = {"action_term"}
CODE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(\(.*\))?$", re.S)


@functools.cache
def public_pages() -> tuple[dict[str, str], dict[str, str]]:
    """``(qualified, bare)``: API page (docname) of each public name, by qualified and by unique bare name."""
    qualified: dict[str, str] = {}
    owners: dict[str, list[str]] = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in [*module.__all__, *EXTRA.get(package, [])]:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            page = f"api/generated/{package}.{name}"
            qualified[f"{package}.{name}"] = page
            qualified[f"ds{package[len('dopasoft') :]}.{name}"] = page
            owners.setdefault(name, []).append(page)
    bare = {
        name: pages[0]
        for name, pages in owners.items()
        if len(set(pages)) == 1 and ("_" in name or name[:1].isupper())
    }
    return qualified, bare


def link_api_names(app, doctree, docname: str) -> None:
    if docname.startswith(("api/", "auto_examples/")):
        return  # autodoc and sphinx-gallery link their own pages
    qualified, bare = public_pages()
    for literal in list(doctree.findall(nodes.literal)):
        if isinstance(literal.parent, nodes.reference):
            continue
        m = CODE.match(literal.astext())
        if not m:
            continue
        name = m.group("name")
        if name in ALSO_COLUMNS and not m.group(2):
            continue
        page = qualified.get(name) or bare.get(name)
        if page is None or page not in app.env.all_docs:
            continue
        uri = app.builder.get_relative_uri(docname, page)
        ref = nodes.reference("", "", internal=True, refuri=uri, reftitle=page.rsplit("/", 1)[-1])
        literal.replace_self(ref)
        ref.append(literal)


def setup(app):
    app.connect("doctree-resolved", link_api_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
