"""The installed bortnas version, recorded in every exported config and result."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def bortnas_version() -> str:
    try:
        return version("bortnas")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0+unknown"
