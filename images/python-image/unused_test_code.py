"""Print the packages' own test suites in the environment that nothing else imports.

    python unused_test_code.py | xargs -d '\\n' rm -rf

A folder named tests or test that holds Python code is a package's test suite,
unless a module outside it imports it (imports are read with ast, so an example in
a docstring does not count). Folders named testing are not touched: they hold
helpers that libraries and their users import (numpy.testing, IPython.testing).
Prints one path per line; deletes nothing.
"""

import ast
import sysconfig
from pathlib import Path

NAMES = {"tests", "test"}
# gensim's documentation begins with `from gensim.test.utils import common_texts`:
# that module (a few sample texts, and the 0.4 MB corpus it reads on import) stays;
# gensim's test suite and the rest of its test data (31 MB) go.
KEEP = {
    "gensim/test/__init__.py",
    "gensim/test/utils.py",
    "gensim/test/test_data/lee_background.cor",
}

site = Path(sysconfig.get_path("platlib"))


def module_name(path: Path) -> str:
    parts = path.relative_to(site).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module name path imports, with relative imports made absolute."""
    source = path.read_bytes()
    if b"test" not in source:  # cannot import a test folder: skip the slow parse
        return set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def candidates() -> list[Path]:
    """Outermost folders named like a test suite that hold Python code."""
    found: list[Path] = []
    for folder in sorted(site.rglob("*")):
        if (
            folder.is_dir()
            and folder.name in NAMES
            and ".dist-info" not in str(folder)
            and not any(folder.is_relative_to(f) for f in found)
            and any(folder.rglob("*.py"))
        ):
            found.append(folder)
    return found


def main() -> None:
    suites = {folder: module_name(folder / "__init__.py") for folder in candidates()}
    outside = [p for p in site.rglob("*.py") if not any(p.is_relative_to(f) for f in suites)]
    imported = set().union(*(imports(p) for p in outside))
    used: set[Path] = set()
    while True:  # a test folder that a used one imports is used too
        new = {
            f
            for f, name in suites.items()
            if f not in used and any(i == name or i.startswith(name + ".") for i in imported)
        }
        if not new:
            break
        used |= new
        imported |= set().union(*(imports(p) for f in new for p in f.rglob("*.py")))
    keep = {site / k for k in KEEP}
    for folder in sorted(set(suites) - used):
        print_unkept(folder, keep)


def print_unkept(folder: Path, keep: set[Path]) -> None:
    """Print folder, or, if it holds a file to keep, whatever else it holds."""
    if not any(k.is_relative_to(folder) for k in keep):
        print(folder)
        return
    for child in sorted(folder.iterdir()):
        if child.name == "__pycache__":  # the compiled modules of those kept stay too
            stems = {k.stem for k in keep if k.parent == folder}
            for pyc in sorted(child.iterdir()):
                if pyc.name.split(".")[0] not in stems:
                    print(pyc)
        elif child not in keep:
            print_unkept(child, keep)


if __name__ == "__main__":
    main()
