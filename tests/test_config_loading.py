"""Hostile YAML: alias and merge bombs, deep nesting, binary and non-UTF-8 files, Python tags,
directories. Each is refused with one ConfigError line, fast and in little memory."""
import time
import tracemalloc

import pytest

from fieldsolve.config import (MAX_CONFIG_BYTES, MAX_DEPTH, MAX_VALUES, ConfigError, load_config,
                               load_yaml, read_config_text)


def _alias_bomb(levels, width=9):
    """The classic 'billion laughs': level i is a list of `width` aliases of level i - 1."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _merge_bomb(levels):
    """Each mapping merges the previous one twice: 2^levels expanded entries."""
    lines = ["m0: &m0 {a: 1, b: 2}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _timed(text):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        load_yaml(text, "c.yaml")
        outcome = "accepted"
    except ConfigError as exc:
        outcome = str(exc)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, dt, peak


def _big(text, n=MAX_CONFIG_BYTES):
    return text[:n]


HOSTILE = {
    "alias bomb 300 B": _alias_bomb(9, 9)[:300].rsplit("\n", 1)[0] + "\n",
    "alias bomb 9x9": _alias_bomb(9, 9),
    "alias bomb 30 levels": _alias_bomb(30, 9),
    "alias bomb wide": _alias_bomb(4, 2000),
    "merge bomb": _merge_bomb(40),
    "1 MiB flat list": _big("a: [" + "1, " * 400_000),
    "1 MiB of keys": _big("".join(f"k{i}: {i}\n" for i in range(120_000))),
    "1 MiB of brackets": "[" * MAX_CONFIG_BYTES,
    "1 MiB of braces": "{a: " * (MAX_CONFIG_BYTES // 4),
    "1 MiB string": "a: '" + "x" * (MAX_CONFIG_BYTES - 10) + "'\n",
    "1 MiB of aliases": _big("a: &a [1]\nb: [" + "*a, " * 300_000),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_any_config_under_1mib_is_decided_fast_and_small(name):
    """The issue's bound: any config under 1 MB accepted or refused in < 1 s and < 100 MB
    (measured here with tracemalloc; the event-driven loader never builds a node graph)."""
    text = HOSTILE[name]
    assert len(text.encode()) <= MAX_CONFIG_BYTES
    outcome, dt, peak = _timed(text)
    print(f"{name}: {len(text)} B, {dt * 1e3:.1f} ms, peak {peak / 2**20:.1f} MiB: {outcome[:100]}")
    assert dt < 1.0 and peak < 100 * 2**20
    if "bomb" in name or "aliases" in name or "keys" in name or "flat" in name:
        assert f"more than {MAX_VALUES} keys and values" in outcome and "\n" not in outcome
    if "brackets" in name or "braces" in name:
        assert outcome != "accepted" and "\n" not in outcome


def test_small_alias_bomb_from_the_issue_is_refused_in_milliseconds():
    text = HOSTILE["alias bomb 9x9"]
    assert len(text) < 600  # the issue's 586-byte file ran 9 minutes at 5 GB
    outcome, dt, _ = _timed(text)
    assert "alias bomb" in outcome and dt < 0.1


def test_aliases_and_merge_keys_still_work():
    d = load_yaml("base: &b {x: 1, y: 2}\nmore: &c {y: 5, z: 3}\n"
                  "a: {<<: *b, y: 3}\nb: {<<: [*b, *c], w: 0}\nl: &l [1, 2]\nm: *l\n")
    assert d["a"] == {"x": 1, "y": 3}                    # explicit keys override merged ones
    assert d["b"] == {"x": 1, "y": 2, "z": 3, "w": 0}    # the earlier merged mapping wins
    assert d["m"] == [1, 2]


def test_nesting_limit_is_exact():
    ok = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    deep = "a: " + "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH
    assert load_yaml(ok) is not None
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
        load_yaml(deep)


BAD_YAML = [
    ("a: !!python/object/apply:os.system ['echo hi']\n", "tag !!python/object/apply:os.system is refused"),
    ("a: !!python/name:os.system\n", "Python object tags are never constructed"),
    ("a: !!python/object:x {k: 1}\n", "tag !!python/object:x is refused"),
    ("a: !!set {x, y}\n", "tag !!set is not allowed"),
    ("a: !custom 3\n", "tag !custom is not allowed"),
    ("a: !!int abc\n", "'abc' is not a valid !!int"),
    ("a: *nope\n", "alias *nope refers to no anchor"),
    ("a: &a [1, *a]\n", "recursive"),
    ("a: 1\n---\nb: 2\n", "a second YAML document"),
    ("? [1, 2]\n: 3\n", "a key must be a plain string"),
    ("1: 3\n", "key 1 must be a string"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("a: {<<: 3}\n", "merge key '<<' takes a mapping"),
    ("a: [1, 2\n", "not valid YAML"),
    ("a: \x07\n", "not valid YAML (control characters are not allowed)"),
    ("a: \x00\n", "NUL characters"),
    ("seed: 017\n", "seed (line 1): '017' has a leading zero"),
]


@pytest.mark.parametrize("text,fragment", BAD_YAML, ids=[b[1][:30] for b in BAD_YAML])
def test_bad_yaml_one_line(text, fragment):
    with pytest.raises(ConfigError) as exc:
        load_yaml(text, "c.yaml")
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_yaml12_core_schema_keeps_timestamps_and_equals_as_strings():
    assert load_yaml("a: 2024-01-01\nb: =\n") == {"a": "2024-01-01", "b": "="}


BAD_FILES = [
    (b"kind: pic\n\xff\xfe bad\n", "not UTF-8 text (byte 0xff at offset 10)"),
    (b"\x89HDF\r\n\x1a\n\x00\x00\x00", "binary data (a NUL byte at offset 8)"),
    (b"x" * (MAX_CONFIG_BYTES + 1), "larger than 1 MiB"),
]


@pytest.mark.parametrize("data,fragment", BAD_FILES, ids=["latin1", "binary", "too large"])
def test_bad_config_files(tmp_path, data, fragment):
    path = tmp_path / "c.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert fragment in str(exc.value) and str(path) in str(exc.value)


def test_utf8_bom_and_non_ascii_text_are_fine(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeffname: café\n".encode())
    assert read_config_text(path) == "name: café\n"


def test_directory_and_long_one_line_text(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a YAML config file"):
        load_config(tmp_path)
    (tmp_path / "config.resolved.yaml").write_text("kind: pic\n")
    with pytest.raises(ConfigError, match="--resume DIR"):
        load_config(str(tmp_path))
    # a one-line YAML text longer than a file name is YAML, not a path (used to raise OSError)
    with pytest.raises(ConfigError, match="kind: required key is missing"):
        load_config("{" + ", ".join(f"k{i}: {i}" for i in range(100)) + "}")
