#!/usr/bin/env python3
"""Copies the "//! [name]" blocks of tst_api_docs.cpp into docs/api.md, under each
"<!-- snippet: name -->" line (replacing the ```cpp block that follows it, or adding one).
tst_api_docs (docSnippetsMatchSource) fails when the two differ; run this after editing either."""
import pathlib
import re
import sys

here = pathlib.Path(__file__).resolve().parent
src = (here / "tst_api_docs.cpp").read_text().split("\n")
md_path = here.parents[2] / "docs" / "api.md"

snippets, name, body = {}, None, []
for line in src:
    m = re.match(r"^\s*//! \[([a-z0-9-]+)\]\s*$", line)
    if m:
        if name is None:
            name, body = m.group(1), []
        else:
            indent = min((len(l) - len(l.lstrip(" ")) for l in body if l.strip()), default=0)
            snippets[name] = [l[indent:] if l.strip() else "" for l in body]
            name = None
    elif name is not None:
        body.append(line)

out, lines, i, used = [], md_path.read_text().split("\n"), 0, set()
while i < len(lines):
    out.append(lines[i])
    m = re.match(r"^<!-- snippet: ([a-z0-9-]+) -->$", lines[i])
    i += 1
    if not m:
        continue
    if m.group(1) not in snippets:
        sys.exit(f"api.md names unknown snippet {m.group(1)}")
    used.add(m.group(1))
    if i < len(lines) and lines[i] == "```cpp":
        i += 1
        while i < len(lines) and lines[i] != "```":
            i += 1
        i += 1
    out += ["```cpp"] + snippets[m.group(1)] + ["```"]
md_path.write_text("\n".join(out))
missing = sorted(set(snippets) - used)
if missing:
    sys.exit("snippets not used in api.md: " + ", ".join(missing))
