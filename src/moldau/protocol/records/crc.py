"""CRC-32C, the checksum of a v2 record batch, from the ``crc32c`` package's C extension.

The package's ``__init__`` asks ``importlib.metadata`` for its own version, which imports
the metadata machinery (email parsing, zip files, ...) and scans every installed
distribution: 20 to 40 ms of the broker's start-up on the development machine, for a
number the broker never reads. So the extension module is loaded on its own, from the
package's directory, without running the package; where that is not possible (a layout this
code does not know) the package is imported as usual.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

_EXTENSION = "crc32c._crc32c"


def _extension() -> ModuleType | None:
    spec = importlib.util.find_spec("crc32c")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    for directory in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(directory, "_crc32c" + suffix)
            if not os.path.isfile(path):
                continue
            loader = importlib.machinery.ExtensionFileLoader(_EXTENSION, path)
            module_spec = importlib.util.spec_from_file_location(_EXTENSION, path, loader=loader)
            if module_spec is None:
                return None
            module = importlib.util.module_from_spec(module_spec)
            loader.exec_module(module)
            sys.modules[_EXTENSION] = module  # a later ``import crc32c`` reuses it
            return module
    return None


def _load() -> Callable[..., int]:
    module: Any = sys.modules.get(_EXTENSION) or _extension()
    if module is None:
        import crc32c as module
    function: Callable[..., int] = module.crc32c
    return function


crc32c = _load()
"""``crc32c(data, value=0)``: the CRC-32C of any buffer (bytes, bytearray, memoryview)."""
