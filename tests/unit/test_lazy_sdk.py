"""drivers/lazy.py: an SDK's exception classes read without importing it,
and helper modules imported on first use (pure logic, a throwaway module)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge.drivers.lazy import LazyModule, SdkErrors

SOURCE = "class Refused(Exception):\n    pass\n\nVALUE = 42\n"


@pytest.fixture
def module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"lazy_sdk_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_sdk_errors_match_nothing_until_the_sdk_is_loaded(module_name: str) -> None:
    errors = SdkErrors(module_name)
    before = errors.Refused
    assert module_name not in sys.modules  # reading it imported nothing
    assert not isinstance(ValueError("x"), before)
    with pytest.raises(ValueError):
        try:
            raise ValueError("not the SDK's")
        except errors.Refused:
            pytest.fail("a class standing for an unloaded SDK's matched")
    module = __import__(module_name)
    assert errors.Refused is module.Refused
    with pytest.raises(module.Refused):
        raise module.Refused("the SDK's")
    try:
        raise module.Refused("the SDK's")
    except errors.Refused as caught:
        assert isinstance(caught, module.Refused)


def test_lazy_module_imports_on_first_attribute(module_name: str) -> None:
    lazy = LazyModule(module_name)
    assert module_name not in sys.modules
    assert lazy.VALUE == 42
    assert module_name in sys.modules


def test_sdk_errors_of_a_module_still_being_imported_match_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another thread may be importing the SDK: a class not defined yet in
    the half-made module stands for nothing raised (and reading it does not
    fail, which would replace the exception being handled)."""
    half_made = type(sys)("half_made_sdk")
    monkeypatch.setitem(sys.modules, "half_made_sdk", half_made)
    assert not isinstance(ValueError("x"), SdkErrors("half_made_sdk").Refused)
