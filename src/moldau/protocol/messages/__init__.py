"""Declarations of every API's request and response, one module per API.

Each module defines its request/response dataclasses and one module-level ``Api`` constant.
``all_apis()`` collects them by key.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from moldau.protocol.schema import Api


@cache
def all_apis() -> dict[int, Api]:
    apis: dict[int, Api] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Api):
                if value.key in apis and apis[value.key] is not value:
                    raise RuntimeError(f"API key {value.key} declared twice")
                apis[value.key] = value
    return dict(sorted(apis.items()))
