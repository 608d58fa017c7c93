"""Import every compiled module of the environment; print those that fail.

    python check_imports.py > before.txt   # then strip, delete, ...
    python check_imports.py | diff before.txt -

The Dockerfile runs it before and after trimming the environment: a module
that imported before must still import after, so a damaged library fails the
build rather than a notebook. (A few modules never import on their own, e.g.
tkinter backends without Tk; they fail the same way both times.)
"""

import importlib
import sysconfig
from pathlib import Path

site = Path(sysconfig.get_path("platlib"))
for path in sorted(site.rglob("*.so")):
    if not path.name.endswith(".abi3.so") and ".cpython-" not in path.name:
        continue  # a vendored library (numpy.libs/...), loaded by the modules that use it
    parts = path.relative_to(site).parts
    name = ".".join([*parts[:-1], path.name.split(".", 1)[0]])
    try:
        importlib.import_module(name)
    except Exception as exc:  # any failure is what we look for
        print(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
