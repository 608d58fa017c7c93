"""MkDocs hook: keep only the notebook CSS that a notebook page uses.

mkdocs-jupyter inlines JupyterLab's whole stylesheet (about 575 KB, with
hundreds of custom properties) into every notebook page, although a rendered
notebook uses a few dozen of its rules. That stylesheet was most of the
notebook page's weight and made it the slowest page to first paint. This hook
drops, from each inline <style> of a notebook page:

- rules whose selectors all name a class that does not occur on the page
  (Material's md-* classes count as present: its scripts add some on load);
- custom properties (--name) that no kept rule and none of the site's own
  stylesheets (Material's, extra_css) uses, directly or through another one;
- @keyframes that no kept rule names, and at-rule blocks left empty.

Everything else stays as written. tests/site/test_browser.py compares every element
of the page with the untrimmed page (KEEP_NOTEBOOK_CSS=1 turns the hook off).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

CLASS = re.compile(r"\.(-?[_a-zA-Z][_a-zA-Z0-9-]*)")
# :not(.a) matches where .a is absent, :is(.a, .b) needs only one of them: the
# classes inside such functions are never required.
PSEUDO_FUNCTION = re.compile(r":[a-zA-Z-]+\((?:[^()]|\([^()]*\))*\)")
VAR_USE = re.compile(r"var\(\s*(--[_a-zA-Z0-9-]+)")
STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
PAGE_CLASSES = re.compile(r'\bclass="([^"]*)"')


# A string or a comment, or one character that matters to the scanners below.
STRING = r""""(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'"""
COMMENT_OR_STRING = re.compile(rf"({STRING})|/\*.*?(?:\*/|$)", re.S)
BLOCK_TOKEN = re.compile(rf"{STRING}|[{{}};]")
SPLIT_TOKEN = {sep: re.compile(rf"{STRING}|[(){re.escape(sep)}]") for sep in ",;"}


def _strip_comments(css: str) -> str:
    return COMMENT_OR_STRING.sub(lambda m: m.group(1) or "", css)


def _blocks(css: str) -> list[tuple[str, str | None]]:
    """Split comment-free CSS into top-level (prelude, body) pairs; body is None
    for statements such as @charset. Honours strings and nested braces."""
    out: list[tuple[str, str | None]] = []
    start, depth, body_start = 0, 0, 0
    for m in BLOCK_TOKEN.finditer(css):
        token = m.group()
        if token == "{":
            if depth == 0:
                body_start = m.end()
            depth += 1
        elif token == "}" and depth:
            depth -= 1
            if depth == 0:
                out.append((css[start : body_start - 1].strip(), css[body_start : m.start()]))
                start = m.end()
        elif token == ";" and depth == 0:
            out.append((css[start : m.start()].strip(), None))
            start = m.end()
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """Split on sep outside parentheses and strings (selectors, declarations)."""
    parts, depth, start = [], 0, 0
    for m in SPLIT_TOKEN[sep].finditer(text):
        token = m.group()
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif token == sep and depth == 0:
            parts.append(text[start : m.start()])
            start = m.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _keep_rules(css: str, classes: set[str]) -> list[tuple[str, str | None]]:
    kept: list[tuple[str, str | None]] = []
    for prelude, body in _blocks(css):
        if body is None or prelude.startswith(("@font-face", "@page")):
            kept.append((prelude, body))
        elif prelude.startswith("@keyframes") or prelude.startswith("@-webkit-keyframes"):
            kept.append((prelude, body))  # judged once the rules are known
        elif prelude.startswith("@"):
            inner = _keep_rules(body, classes)
            if inner:
                kept.append((prelude, _join(inner)))
        else:
            selectors = [
                s
                for s in _split_top(prelude, ",")
                if set(CLASS.findall(PSEUDO_FUNCTION.sub("", s))) <= classes
            ]
            if selectors:
                kept.append((",".join(selectors), body))
    return kept


def _join(rules: list[tuple[str, str | None]]) -> str:
    return "".join(p + ";" if b is None else f"{p}{{{b}}}" for p, b in rules)


def _declared(css: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[_a-zA-Z0-9-]+)\s*:", css))


def _rewrite_declarations(css: str, unused: set[str]) -> str:
    rules = []
    for prelude, body in _blocks(css):
        if body is None:
            rules.append((prelude, None))
        elif prelude.startswith("@") and "{" in body:
            inner = _rewrite_declarations(body, unused)
            if inner.strip():
                rules.append((prelude, inner))
        else:
            decls = [d for d in _split_top(body, ";") if d.split(":", 1)[0].strip() not in unused]
            if decls:
                rules.append((prelude, ";".join(decls)))
    return _join(rules)


def _drop_unused_keyframes(css: str) -> str:
    rules = _blocks(css)
    text = _join([r for r in rules if not r[0].startswith(("@keyframes", "@-webkit-keyframes"))])
    return _join(
        [
            r
            for r in rules
            if not r[0].startswith(("@keyframes", "@-webkit-keyframes"))
            or re.search(rf"(?<![\w-]){re.escape(r[0].split()[-1])}(?![\w-])", text)
        ]
    )


def trim(
    styles: list[str], classes: set[str], used_elsewhere: frozenset[str] = frozenset()
) -> list[str]:
    """The part of each stylesheet in styles (the inline ones of one page) that a
    page whose elements carry these classes uses. used_elsewhere: custom
    properties that the page's other stylesheets read."""
    styles = [_join(_keep_rules(_strip_comments(css), classes)) for css in styles]
    while True:  # a dropped declaration may have been the last reader of another
        used = set(used_elsewhere).union(*(VAR_USE.findall(css) for css in styles))
        unused = set().union(*(_declared(css) for css in styles)) - used
        if not unused:
            break
        styles = [_rewrite_declarations(css, unused) for css in styles]
    return [_drop_unused_keyframes(css) for css in styles]


def _site_stylesheets_var_uses(config) -> frozenset[str]:
    """Custom properties read by the theme's and the extra_css stylesheets."""
    files = [f for d in config.theme.dirs for f in Path(d, "assets", "stylesheets").glob("*.css")]
    files += [Path(config.docs_dir, css) for css in config.extra_css]
    return frozenset(v for f in files if f.is_file() for v in VAR_USE.findall(f.read_text()))


def on_post_page(output: str, page, config) -> str:
    if not page.file.src_uri.endswith(".ipynb") or os.environ.get("KEEP_NOTEBOOK_CSS") == "1":
        return output
    classes = {c for attr in PAGE_CLASSES.findall(output) for c in attr.split()}
    # Material's scripts add classes of their own once the page loads (a table's
    # md-typeset__scrollwrap, for one): rules that name them stay.
    styles = [m.group(2) for m in STYLE.finditer(output)]
    classes |= {c for css in styles for c in CLASS.findall(css) if c.startswith("md-")}
    trimmed = iter(
        trim(
            styles,
            classes,
            _site_stylesheets_var_uses(config),
        )
    )
    return STYLE.sub(lambda m: m.group(1) + next(trimmed) + m.group(3), output)
