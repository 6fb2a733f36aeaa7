"""Sphinx configuration: the docs/*.md pages (MyST) plus an API reference generated from the
docstrings (autosummary, recursive). Built by ``make docs`` with warnings as errors."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "fieldsolve"
author = "the fieldsolve developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon",
              "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "api/generated/*.md"]
autosummary_generate = True
# document each object where it is defined (packages re-export through __all__)
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True,
                           "ignore-module-all": True}
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "ref.python"]  # numpydoc types such as "Grid" resolve twice
html_theme = "alabaster"
