#!/usr/bin/env python3
"""Extract the Terraform schema of the resources the module uses from the prebuilt CDKTF
provider bindings on PyPI, into terraform/.provider-schema/<provider>.json (committed), so
tests/test_terraform.py can check every argument and block name offline: the google provider
itself cannot be downloaded on this project's machines, so `terraform validate` cannot run.

Regenerate (dev only, needs PyPI; downloads about 85 MB of wheels into a temporary folder):

    .venv/bin/python scripts/provider_schema.py

which runs, for each entry of BINDINGS below (TMP: a temporary folder),

    python -m pip download --no-deps --dest TMP cdktf-cdktf-provider-google==13.29.0  # 5.40.0
    python -m pip download --no-deps --dest TMP cdktf-cdktf-provider-google==16.12.1  # 6.50.0
    python -m pip download --no-deps --dest TMP cdktf-cdktf-provider-archive==11.0.1  # 2.7.1

(`--wheels DIR` uses wheels already in DIR instead). Google is extracted at both ends of the
range terraform/versions.tf allows (">= 5.40.0, < 7.0.0"): 5.40.0, its lower bound, and 6.50.0,
the last 6.x release; archive (">= 2.4.0") at its newest. When the constraint in versions.tf
changes, change BINDINGS (the npm twin of each wheel says which provider release it was
generated from: `npm view @cdktf/provider-google@16.12.1 cdktf.provider.version`) and rerun.
Rerun it too when the module starts using a resource or data source type not in the file.

Where the schema comes from: each wheel carries the npm package of the bindings
(`<pkg>/_jsii/provider-*.jsii.tgz`) whose `package.json` names the provider release
(`cdktf.provider`), and whose generated JavaScript, `lib/<resource>/**/*.js`, holds for every
resource class its `tfResourceType` ("google_pubsub_subscription") and a
`synthesizeHclAttributes()` that lists every configurable argument and block by its Terraform
name with `isBlock: true|false`, a nested block's entries coming from a
`<struct>ToHclTerraform()` function of the same shape. That is the code cdktf itself uses to
write the HCL, so names need no camelCase -> snake_case guessing. (The `.jsii` assembly beside
it, 99 MB of JSON, has the same structure with camelCase names, and turning those back guesses
wrong: `detectMd5Hash` is `detect_md5hash`.) Computed-only attributes are not configurable and
are absent, as they are from what Terraform accepts.

Output, per provider: every resource and data source type name of each version, and for the
types used in terraform/**/*.tf the nested schema {"arguments": [...], "blocks": {name: ...}}.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TF = ROOT / "terraform"
OUT = TF / ".provider-schema"

# provider local name -> the PyPI bindings to extract (one per provider version checked)
BINDINGS: dict[str, list[str]] = {
    "google": [
        "cdktf-cdktf-provider-google==13.29.0",  # hashicorp/google 5.40.0
        "cdktf-cdktf-provider-google==16.12.1",  # hashicorp/google 6.50.0
    ],
    "archive": ["cdktf-cdktf-provider-archive==11.0.1"],  # hashicorp/archive 2.7.1
}

CLASS = re.compile(
    r"^class (\w+) extends cdktf\.(TerraformResource|TerraformDataSource) \{\n(.*?)^\}\n",
    re.M | re.S,
)
TF_TYPE = re.compile(r'^(\w+)\.tfResourceType = "([^"]+)";$', re.M)
STRUCT_FN = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{\n(.*?)^\}\n", re.M | re.S)
ATTRS = re.compile(r"const attrs = \{(?:\}|\n(.*?)\n *\});", re.S)
ENTRY = re.compile(
    r'^ +(\w+): \{\n +value: (.*),\n +isBlock: (true|false),\n +type: "(\w+)",\n'
    r' +storageClassType: "(\w+)",\n +\},?$',
    re.M,
)
NESTED_FN = re.compile(r"(?<!cdktf\.)\b([a-z]\w*)ToHclTerraform\b")
USED = re.compile(r'^\s*(resource|data)\s+"([\w-]+)"', re.M)


def used_types() -> dict[str, set[str]]:
    """{"resource": {...}, "data": {...}} named in terraform/**/*.tf."""
    used: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in sorted(TF.rglob("*.tf")):
        for kind, rtype in USED.findall(path.read_text()):
            used[kind].add(rtype)
    return used


def attrs_of(code: str, where: str) -> list[tuple[str, str, bool]]:
    """(name, value expression, is_block) of the one `const attrs = {...}` in code."""
    found = ATTRS.findall(code)
    if len(found) != 1:
        raise SystemExit(f"{where}: expected one `const attrs`, found {len(found)}")
    text = found[0]
    entries = [(m[0], m[1], m[2] == "true") for m in ENTRY.findall(text)]
    if len(entries) != text.count("isBlock:"):  # the generated shape changed: say so, loudly
        raise SystemExit(f"{where}: parsed {len(entries)} of {text.count('isBlock:')} entries")
    return entries


def node(
    entries: list[tuple[str, str, bool]], structs: dict[str, str], where: str
) -> dict[str, Any]:
    arguments: list[str] = []
    blocks: dict[str, Any] = {}
    objects: dict[str, Any] = {}
    for name, value, is_block in entries:
        nested = NESTED_FN.findall(value)
        if not nested:
            if is_block:
                raise SystemExit(f"{where}.{name}: a block without a struct function")
            arguments.append(name)
            continue
        (fn,) = set(nested)
        if fn not in structs:
            raise SystemExit(f"{where}.{name}: {fn}ToHclTerraform not found")
        inner = node(attrs_of(structs[fn], f"{where}.{name}"), structs, f"{where}.{name}")
        if is_block:
            blocks[name] = inner
        else:  # an attribute of object type (plugin-framework nested attribute): `name = {...}`
            arguments.append(name)
            objects[name] = inner
    out: dict[str, Any] = {"arguments": sorted(arguments), "blocks": dict(sorted(blocks.items()))}
    if objects:
        out["object_arguments"] = dict(sorted(objects.items()))
    return out


def npm_package(wheel: Path) -> tarfile.TarFile:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if "/_jsii/" in n and n.endswith(".jsii.tgz")]
        data = zf.read(name)
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def js_files(tar: tarfile.TarFile) -> Iterator[tuple[str, str, str]]:
    """(module folder under lib/, file name, text) of every generated .js file."""
    for member in tar:
        parts = member.name.split("/")
        lib = len(parts) >= 4 and parts[:2] == ["package", "lib"]
        if member.isfile() and lib and parts[-1].endswith(".js"):
            f = tar.extractfile(member)
            assert f is not None
            yield parts[2], "/".join(parts[3:]), f.read().decode()


def extract(wheel: Path, used: dict[str, set[str]]) -> dict[str, Any]:
    with npm_package(wheel) as tar:
        f = tar.extractfile("package/package.json")
        assert f is not None
        package = json.load(f)
        # pass 1: every type name, and which lib/ folder defines the used ones
        types: dict[str, dict[str, str]] = {"resource": {}, "data": {}}
        for folder, name, text in js_files(tar):
            if name != "index.js":
                continue
            tf_types = dict(TF_TYPE.findall(text))
            for cls, base, _ in CLASS.findall(text):
                kind = "data" if base == "TerraformDataSource" else "resource"
                types[kind][tf_types[cls]] = folder
    wanted = {folder for kind in types for t, folder in types[kind].items() if t in used[kind]}
    with npm_package(wheel) as tar:  # pass 2: the code of those folders (a gzip stream: reread)
        code: dict[str, list[str]] = {}
        for folder, _, text in js_files(tar):
            if folder in wanted:
                code.setdefault(folder, []).append(text)
    schemas: dict[str, dict[str, Any]] = {"resource": {}, "data": {}}
    for _, texts in sorted(code.items()):
        whole = "\n".join(texts)
        structs = dict(STRUCT_FN.findall(whole))
        tf_types = dict(TF_TYPE.findall(whole))
        for cls, base, body in CLASS.findall(whole):
            kind = "data" if base == "TerraformDataSource" else "resource"
            rtype = tf_types[cls]
            hcl = body.split("synthesizeHclAttributes() {", 1)[1]
            schemas[kind][rtype] = node(attrs_of(hcl, rtype), structs, rtype)
    provider = package["cdktf"]["provider"]  # {"name": "registry.../google", "version": ...}
    return {
        "provider": provider["name"],
        "version": provider["version"],
        "from": f"{package['name']}@{package['version']} (PyPI: {wheel.name})",
        "resource_types": sorted(types["resource"]),
        "data_source_types": sorted(types["data"]),
        "resources": dict(sorted(schemas["resource"].items())),
        "data_sources": dict(sorted(schemas["data"].items())),
    }


def wheel_for(requirement: str, folder: Path) -> Path:
    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if not list(folder.glob(pattern)):
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        subprocess.run([*pip, "--dest", str(folder), requirement], check=True)
    return sorted(folder.glob(pattern))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, help="folder with the wheels (else downloaded)")
    args = parser.parse_args()
    used = used_types()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.wheels or Path(tmp)
        for local, requirements in BINDINGS.items():
            mine = {
                kind: {t for t in types if t == local or t.startswith(local + "_")}
                for kind, types in used.items()
            }
            doc: dict[str, Any] = {
                "provider": None,  # filled from the bindings' package.json
                "generated_by": "scripts/provider_schema.py (its docstring says how to rerun it)",
                "versions": {},
            }
            for requirement in requirements:
                schema = extract(wheel_for(requirement, folder), mine)
                doc["provider"] = schema.pop("provider")
                version = schema.pop("version")
                doc["versions"][version] = schema
                # not fatal: the test names the block and the file that use it
                for kind, key in (("resource", "resources"), ("data", "data_sources")):
                    for rtype in sorted(mine[kind] - set(schema[key])):
                        print(f"warning: {local} {version} has no {kind} type {rtype}")
            path = OUT / f"{local}.json"
            path.write_text(json.dumps(doc, indent=1) + "\n")
            size = path.stat().st_size // 1024
            print(f"{path.relative_to(ROOT)}: {', '.join(doc['versions'])}, {size} KiB")


if __name__ == "__main__":
    main()
