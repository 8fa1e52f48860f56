"""One root exception: every exception class htdag defines derives from
HtdagError (and htdag.errors lists them all), so ``except htdag.HtdagError``
catches whatever htdag raises on purpose."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import htdag
import htdag.errors


def _htdag_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(htdag.__path__, "htdag."):
        if info.name in ("htdag.llm", "htdag.cli", "htdag.demo"):
            continue  # litellm is heavy; the CLI defines no exception
        names.append(info.name)
    return names


def test_every_exception_class_derives_from_htdag_error() -> None:
    found = {}
    for name in _htdag_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == name and not attr.startswith("_")):
                found[f"{name}.{attr}"] = value
    strays = sorted(k for k, v in found.items() if not issubclass(v, htdag.HtdagError))
    assert strays == []
    assert len(found) > 20  # the walk saw the package's errors


def test_htdag_errors_lists_every_public_one() -> None:
    listed = {getattr(htdag.errors, n) for n in htdag.errors.__all__}
    assert all(issubclass(e, htdag.HtdagError) for e in listed)
    for name in _htdag_modules():
        for attr, value in vars(importlib.import_module(name)).items():
            if inspect.isclass(value) and issubclass(value, htdag.HtdagError) \
                    and value.__module__ == name and not attr.startswith("_"):
                assert value in listed, f"{name}.{attr} is missing from htdag.errors"
