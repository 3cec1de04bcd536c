"""Generated parts of the docs: what stands between two HTML-comment markers of a page is replaced by
what a command prints (`make bench`'s tables, the action fields table), so the docs quote no copy."""

from __future__ import annotations


class NoRegionError(ValueError):
    """The page lacks the markers: nothing to replace."""


def replace_region(page: str, begin: str, end: str, content: str) -> str:
    """`page` with what stands between `begin` and the first `end` after it replaced by `content`."""
    start = page.find(begin)
    stop = page.find(end, start + len(begin)) if start != -1 else -1
    if stop == -1:
        raise NoRegionError(f"no region {begin} … {end}")
    return page[: start + len(begin)] + "\n" + content.strip() + "\n" + page[stop:]
