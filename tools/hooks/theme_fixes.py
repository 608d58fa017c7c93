"""MkDocs hook: two one-attribute fixes to the header Material writes on every page.

- The search dialog gets an accessible name (axe-core and Lighthouse:
  aria-dialog-name; Material's partials/search.html has role="dialog" and no name).
- The repository link loses data-md-component="source": with it, Material's
  bundle asks api.github.com for stars and forks on every visit, and every
  request of this site stays on the site.

Done on the built HTML rather than with copies of Material's partials, which
would freeze all of their markup. If Material's markup is no longer what these
fixes expect, the build fails and says so (docs/about/contributing.md lists
the Material files each of our customisations depends on).
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError

SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
SEARCH_PLACEHOLDER = re.compile(r'<input[^>]*class="md-search__input"[^>]*placeholder="([^"]+)"')
SOURCE_LINK = re.compile(r'(<a [^>]*class="md-source") data-md-component="source"')


def fix(html: str, where: str) -> str:
    if 'class="md-search"' in html:
        placeholder = SEARCH_PLACEHOLDER.search(html)
        if SEARCH_DIALOG not in html or placeholder is None:
            raise PluginError(
                f"theme_fixes: {where}: Material's search dialog is no longer written as "
                "tools/hooks/theme_fixes.py expects; check whether it still needs a name"
            )
        named = SEARCH_DIALOG[:-1] + f' aria-label="{placeholder[1]}">'
        html = html.replace(SEARCH_DIALOG, named, 1)
    if 'class="md-source"' in html:
        html, found = SOURCE_LINK.subn(r"\1", html)
        if not found:
            raise PluginError(
                f"theme_fixes: {where}: Material's repository link is no longer written as "
                "tools/hooks/theme_fixes.py expects; check that it does not call GitHub's API"
            )
    return html


def on_post_page(output: str, page, config) -> str:
    return fix(output, page.file.src_uri)


def on_post_template(output_content: str, template_name: str, config) -> str:
    return fix(output_content, template_name)  # 404.html
