"""Prints each direct dependency of the installed amr_tf with its version and
fails unless it is the lower bound that pyproject.toml declares for it."""

import importlib.metadata
import re
import sys


def release(version):
    """'3.12' and '3.12.0' alike: the numeric release, trailing zeros cut."""
    parts = [int(part) for part in re.findall(r"\d+", version.split("+")[0])]
    while parts and parts[-1] == 0:
        parts.pop()
    return parts


def main():
    wrong = []
    for requirement in importlib.metadata.requires("amr_tf"):
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group()
        lower = re.search(r">=\s*([^,;\s]+)", requirement).group(1)
        installed = importlib.metadata.version(name)
        print(f"{name:28} lower bound {lower:10} installed {installed}")
        if release(installed) != release(lower):
            wrong.append(f"{name} {installed} (lower bound {lower})")
    if wrong:
        sys.exit("not at their lower bounds: " + "; ".join(wrong))


if __name__ == "__main__":
    main()
