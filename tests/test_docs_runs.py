"""docs/runs.md carries the config reference generated from the schema; keep it current."""
from pathlib import Path

from fieldsolve.config import config_reference_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "runs.md"


def test_config_reference_is_current():
    text = DOC.read_text()
    start = text.index("<!-- BEGIN CONFIG REFERENCE -->\n") + len("<!-- BEGIN CONFIG REFERENCE -->\n")
    end = text.index("<!-- END CONFIG REFERENCE -->")
    assert text[start:end].strip() == config_reference_markdown().strip(), (
        "regenerate with: fieldsolve schema --markdown (paste between the markers in docs/runs.md)")
    for key in ("keep_last", "n_particles", "virialize", "width_cells", "`cfl`"):
        assert key in text


def test_published_schema_is_current():
    import json

    from fieldsolve.config import config_schema

    path = DOC.parent.parent / "configs" / "fieldsolve-config.schema.json"
    assert json.loads(path.read_text()) == config_schema(), (
        "regenerate with: fieldsolve schema --out configs/fieldsolve-config.schema.json")
