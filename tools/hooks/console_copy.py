"""MkDocs hook: a console block's copy button copies the commands the tests run.

A ```console block shows `$ command` lines and their output. Pasted into a
terminal, the prompts and the output would fail, so for each console block of
a page this hook:

- splits the block's Markdown into commands with tools/console_blocks.py's
  parse_console, the parser tests/site/test_docs.py runs the block with, and puts the
  commands, one per line, in the block's `data-copy` attribute. Material's copy
  button copies that attribute when the code's container carries one (its
  clipboard integration reads the closest `[data-copy]`); tests/site/test_browser.py
  clicks every copy button and compares the clipboard with what the tests run;
- marks the block again from that split: prompts `.gp`, output lines `.go`, the
  commands highlighted as Bash. Pygments' console lexer calls every line without
  a prompt output, the body of a heredoc too. extra.css makes `.gp` and `.go`
  unselectable, so a mouse selection also picks up the commands only.

A page whose rendered console blocks do not match its Markdown fails the build.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import BashLexer

ROOT = Path(__file__).resolve().parents[2]
# MkDocs loads a hook from its file: tools/ is not on the path by itself.
sys.path.insert(0, str(ROOT / "tools"))
import console_blocks  # noqa: E402  (the one parser, shared with the tests)

# What pymdownx.highlight writes for a console block (pygments_lang_class: true);
# a title adds a <span class="filename"> before the <pre>.
BLOCK = re.compile(
    r'(?P<open><div class="language-console highlight")(?P<attrs>[^>]*>)'
    r"(?P<head>(?:(?!</div>).)*?<code>)(?P<code>.*?)(?P<close></code>)",
    re.DOTALL,
)
TAG = re.compile(r"<[^>]+>")
FORMATTER = HtmlFormatter(nowrap=True)
LEXER = BashLexer()


def text_of(code_html: str) -> str:
    return html.unescape(TAG.sub("", code_html))


def mark_command(command: str, heredoc: re.Pattern[str]) -> str:
    """The command highlighted as Bash; the body of a heredoc as plain text."""
    lines = command.split("\n")
    split = next((i + 1 for i, line in enumerate(lines) if heredoc.search(line)), len(lines))
    marked = highlight("\n".join(lines[:split]), LEXER, FORMATTER)  # ends with "\n"
    return marked + "".join(html.escape(line, quote=False) + "\n" for line in lines[split:])


def mark_block(commands: list) -> str:
    """Prompts and output (newline included) in unselectable spans; commands as they run."""
    heredoc = console_blocks.HEREDOC
    parts = []
    for command in commands:
        parts.append('<span class="gp">$ </span>' + mark_command(command.command, heredoc))
        parts.extend(
            f'<span class="go">{html.escape(line, quote=False)}\n</span>'
            for line in command.expected
        )
    return "".join(parts)


def on_page_content(html_text: str, page, config, files) -> str:
    source = Path(page.file.abs_src_path)
    if source.suffix != ".md":
        return html_text
    mb = console_blocks
    blocks = [b for b in mb.find_blocks(source) if b.lang == "console"]
    found = list(BLOCK.finditer(html_text))
    where = page.file.src_uri
    if len(found) != len(blocks):
        raise PluginError(
            f"console_copy: {where} renders {len(found)} console blocks but its Markdown has "
            f"{len(blocks)}; a console block must be written in the page itself"
        )
    out, last = [], 0
    for block, match in zip(blocks, found, strict=True):
        shown = text_of(match["code"]).strip("\n")
        if shown != block.source.strip("\n"):
            raise PluginError(f"console_copy: {block}: the page shows other text than its Markdown")
        try:
            commands = mb.parse_console(block.source)
        except ValueError as exc:
            raise PluginError(f"console_copy: {block}: {exc}") from None
        marked = mark_block(commands)
        if text_of(marked).strip("\n") != shown:  # only the markup may change
            raise PluginError(f"console_copy: {block}: marking the block changed its text")
        copy = html.escape("\n".join(c.command for c in commands), quote=True)
        out += [
            html_text[last : match.start()],
            match["open"],
            f' data-copy="{copy}"',
            match["attrs"],
            match["head"],
            marked,
            match["close"],
        ]
        last = match.end()
    out.append(html_text[last:])
    return "".join(out)
