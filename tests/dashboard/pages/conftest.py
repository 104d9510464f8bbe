"""Helpers for the page tests: the pages' callbacks are called directly as functions."""

from __future__ import annotations


def texts(component):
    """All strings inside a component tree, in order."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    if not isinstance(children, list):
        children = [children]
    return [t for child in children for t in texts(child)]
