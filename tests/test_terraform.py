"""What Terraform promises, checked offline (the google provider cannot be downloaded here):
formatting, structure parsed with python-hcl2, every resource and data source argument and
block name against the providers' real schemas (terraform/.provider-schema/, extracted from the
provider bindings on PyPI by scripts/provider_schema.py), and checkov when it is installed."""

from __future__ import annotations

import ast
import difflib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from alertbridge.tenants import load_tenants
from conftest import EXAMPLE_TENANTS, ROOT

TF = ROOT / "terraform"
TF_FILES = sorted(TF.rglob("*.tf"))
needs_terraform = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform binary not installed"
)


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@functools.cache
def parse_hcl(text: str) -> dict[str, Any]:
    """python-hcl2 is slow (seconds for the module); every file is parsed once per run."""
    parsed: dict[str, Any] = hcl2.loads(text)
    return parsed


def blocks_in(kind: str, text: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every `resource` or `data` block (kind) in HCL text."""
    out = []
    for block in parse_hcl(text).get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                out.append((unquote(rtype), unquote(name), body))
    return out


def resources() -> list[tuple[str, str, dict[str, Any], Path]]:
    """(type, name, body, file) of every resource block in the module."""
    out = []
    for path in sorted(TF.glob("*.tf")):
        out += [(t, n, b, path) for t, n, b in blocks_in("resource", path.read_text())]
    return out


def variables() -> dict[str, dict[str, Any]]:
    parsed = hcl2.loads((TF / "variables.tf").read_text())
    return {unquote(k): v for block in parsed["variable"] for k, v in block.items()}


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


SCHEMAS = TF / ".provider-schema"
# Terraform's own arguments and blocks of every resource and data block, not the provider's
META_ARGUMENTS = {
    "count",
    "for_each",
    "depends_on",
    "provider",
    "lifecycle",
    "provisioner",
    "connection",
}


def provider_schemas() -> dict[str, dict[str, Any]]:
    """Provider local name -> terraform/.provider-schema/<name>.json."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.json"))}


def is_block(value: Any) -> bool:
    """python-hcl2 gives `x { ... }` as a list of dicts marked __is_block__, `x = ...` not."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def is_marker(key: str) -> bool:
    """python-hcl2's own keys in a body: __is_block__, __comments__, ..."""
    return key.startswith("__") and key.endswith("__")


def did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def body_errors(body: dict[str, Any], node: dict[str, Any], where: str, top: bool) -> list[str]:
    """Every argument or block of body that node, a schema level, does not have, recursively
    through nested and `dynamic` blocks; a block written as an argument or the reverse too."""
    errors: list[str] = []
    names = [*node["arguments"], *node["blocks"]]
    for key, value in body.items():
        if is_marker(key) or (top and key in META_ARGUMENTS):
            continue
        if key == "dynamic" and isinstance(value, list) and "dynamic" not in names:
            for dynamic in value:  # [{'"label"': {for_each, iterator, content: [body]}}]
                for label, spec in dynamic.items():
                    if is_marker(label):
                        continue
                    name = unquote(label)
                    if name not in node["blocks"]:
                        errors.append(
                            f'{where}: dynamic "{name}": no block {name!r}'
                            + did_you_mean(name, node["blocks"])
                        )
                        continue
                    for content in spec.get("content", []):
                        errors += body_errors(
                            content, node["blocks"][name], f"{where}.{name}", top=False
                        )
        elif key in node["blocks"]:
            if not is_block(value):
                errors.append(f"{where}: {key!r} is a block: write `{key} {{ ... }}`, not `=`")
                continue
            for inner in value:
                errors += body_errors(inner, node["blocks"][key], f"{where}.{key}", top=False)
        elif key in node["arguments"]:
            if is_block(value):
                errors.append(f"{where}: {key!r} is an argument: write `{key} = ...`")
            nested = node.get("object_arguments", {}).get(key)
            if nested and isinstance(value, dict):
                errors += body_errors(value, nested, f"{where}.{key}", top=False)
        else:
            errors.append(
                f"{where}: unsupported argument or block {key!r}" + did_you_mean(key, names)
            )
    return errors


def schema_errors(
    kind: str, rtype: str, name: str, body: dict[str, Any], schemas: dict[str, dict[str, Any]]
) -> list[str]:
    """What `terraform validate` would refuse in one resource/data block, by name, against
    every provider version in the schema file (both ends of the range versions.tf allows)."""
    provider = str(unquote(body.get("provider", ""))).strip("${}").split(".")[0]
    provider = provider or rtype.split("_")[0]  # Terraform's default: the type's prefix
    what = "resource" if kind == "resource" else "data source"
    label = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
    if provider not in schemas:
        return [
            f"{label}: no schema for provider {provider!r}: add it to scripts/provider_schema.py"
        ]
    errors: list[str] = []
    for version, schema in schemas[provider]["versions"].items():
        types = schema["resource_types" if kind == "resource" else "data_source_types"]
        extracted = schema["resources" if kind == "resource" else "data_sources"]
        where = f"{label} ({provider} {version})"
        if rtype not in types:
            errors.append(f"{where}: no {what} type {rtype!r}" + did_you_mean(rtype, types))
        elif rtype not in extracted:
            errors.append(f"{where}: rerun scripts/provider_schema.py to extract this {what}")
        else:
            errors += body_errors(body, extracted[rtype], where, top=True)
    return errors


def module_blocks() -> list[tuple[str, str, str, dict[str, Any], Path]]:
    """(kind, type, name, body, file) of every resource and data block under terraform/."""
    out = []
    for path in TF_FILES:
        text = path.read_text()
        for kind in ("resource", "data"):
            out += [(kind, t, n, b, path) for t, n, b in blocks_in(kind, text)]
    return out


def count_names(body: dict[str, Any], top: bool = True) -> int:
    """Argument and block names checked in one body, nested and dynamic ones included."""
    n = 0
    for key, value in body.items():
        if is_marker(key) or (top and key in META_ARGUMENTS):
            continue
        if key == "dynamic" and isinstance(value, list):
            for dynamic in value:
                for label, spec in dynamic.items():
                    if not is_marker(label):
                        n += 1 + sum(count_names(c, False) for c in spec.get("content", []))
            continue
        n += 1
        if is_block(value):
            n += sum(count_names(inner, False) for inner in value)
    return n


def test_every_resource_and_data_source_argument_exists_in_the_provider_schema() -> None:
    schemas = provider_schemas()
    found = module_blocks()
    errors = [
        f"{path.relative_to(ROOT)}: {e}"
        for kind, rtype, name, body, path in found
        for e in schema_errors(kind, rtype, name, body, schemas)
    ]
    assert not errors, "\n".join(errors)
    # the check saw the whole module: 35 google resources (one function block for_each over
    # the functions map replaced four copies), nested and dynamic blocks included
    google = [b for _, t, _, b, _ in found if t.startswith("google_")]
    assert len(google) >= 35 and sum(map(count_names, google)) >= 225
    assert {t for k, t, *_ in found if k == "data"} >= {"google_project", "archive_file"}


def test_a_misspelled_argument_or_block_is_reported() -> None:
    snippet = """
resource "google_pubsub_subscription" "s" {
  count             = 1
  name              = "s"
  topic             = "t"
  ack_deadline_secs = 20
  dead_letter_policy {
    dead_letter_topc = "x"
  }
  dynamic "retry_policy" {
    for_each = [1]
    content {
      minimum_backof = "10s"
    }
  }
  dynamic "retry_polcy" {
    for_each = []
    content {}
  }
  push_config = { push_endpoint = "https://example.invalid" }
  lifecycle {
    ignore_changes = [labels]
  }
}
resource "google_pubsub_topik" "t" {
  name = "t"
}
data "google_project" "p" {
  projekt = "x"
}
"""
    schemas = provider_schemas()
    errors = "\n".join(
        e
        for kind in ("resource", "data")
        for rtype, name, body in blocks_in(kind, snippet)
        for e in schema_errors(kind, rtype, name, body, schemas)
    )
    for expected in (
        "google_pubsub_subscription.s (google 6.50.0): unsupported argument or block "
        "'ack_deadline_secs' (did you mean 'ack_deadline_seconds'?)",
        "google_pubsub_subscription.s (google 5.40.0): unsupported argument or block "
        "'ack_deadline_secs'",
        "s (google 6.50.0).dead_letter_policy: unsupported argument or block 'dead_letter_topc'",
        "s (google 6.50.0).retry_policy: unsupported argument or block 'minimum_backof'",
        "s (google 6.50.0): dynamic \"retry_polcy\": no block 'retry_polcy'",
        "s (google 6.50.0): 'push_config' is a block: write `push_config { ... }`",
        "google_pubsub_topik.t (google 6.50.0): no resource type 'google_pubsub_topik' "
        "(did you mean 'google_pubsub_topic'?)",
        "data.google_project.p (google 6.50.0): unsupported argument or block 'projekt'",
    ):
        assert expected in errors, errors
    assert len(errors.splitlines()) == 14  # 7 mistakes, each at both versions; meta-arguments pass
    correct = snippet.replace("ack_deadline_secs", "ack_deadline_seconds").replace("topc", "topic")
    correct = correct.replace("backof", "backoff").replace("retry_polcy", "retry_policy")
    correct = correct.replace("push_config = {", "push_config {").replace("topik", "topic")
    correct = correct.replace("projekt", "project_id")
    assert [
        e
        for kind in ("resource", "data")
        for rtype, name, body in blocks_in(kind, correct)
        for e in schema_errors(kind, rtype, name, body, schemas)
    ] == []


def test_the_example_sets_only_inputs_the_module_declares_and_reads_only_its_outputs() -> None:
    example = TF / "examples" / "basic" / "main.tf"
    text = example.read_text()
    ((name, call),) = [(unquote(k), v) for b in hcl2.loads(text)["module"] for k, v in b.items()]
    assert (example.parent / unquote(call["source"])).resolve() == TF
    module_meta = {"source", "version", "count", "for_each", "depends_on", "providers"}
    inputs = {k for k in call if not is_marker(k) and k not in module_meta}
    declared = variables()
    assert inputs <= set(declared), f"not a variable of the module: {inputs - set(declared)}"
    required = {k for k, body in declared.items() if "default" not in body}
    assert required <= inputs, f"required by the module, not set: {required - inputs}"
    outputs = hcl2.loads((TF / "outputs.tf").read_text())["output"]
    declared_outputs = {unquote(k) for block in outputs for k in block}
    read = set(re.findall(rf"module\.{name}\.(\w+)", text))
    assert read and read <= declared_outputs, read - declared_outputs


def allows(version: str, constraint: str) -> bool:
    """Terraform's version constraint syntax (>=, >, <=, <, =, !=, ~>) on plain x.y.z."""

    def parse(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    for part in constraint.split(","):
        m = re.fullmatch(r"\s*(>=|<=|!=|~>|>|<|=)?\s*([\d.]+)\s*", part)
        assert m, constraint
        op, given = m.group(1) or "=", parse(m.group(2))
        size = max(len(given), len(parse(version)))
        have, want = (v + (0,) * (size - len(v)) for v in (parse(version), given))
        if op == "~>":  # >= want, and the segments before the last one given stay the same
            ok = have >= want and have[: len(given) - 1] == given[:-1]
        else:
            ok = {
                ">=": have >= want,
                ">": have > want,
                "<=": have <= want,
                "<": have < want,
                "=": have == want,
                "!=": have != want,
            }[op]
        if not ok:
            return False
    return True


def test_the_provider_schemas_are_versions_that_versions_tf_allows() -> None:
    assert allows("6.50.0", ">= 5.40.0, < 7.0.0") and not allows("7.0.0", ">= 5.40.0, < 7.0.0")
    assert allows("1.3.9", "~> 1.2") and not allows("1.3.0", "~> 1.2.0")
    assert allows("5.40.1", "> 5.40") and not allows("2.3.9", ">= 2.4")
    parsed = hcl2.loads((TF / "versions.tf").read_text())
    (required,) = parsed["terraform"][0]["required_providers"]
    constraints = {k: unquote(v["version"]) for k, v in required.items() if not is_marker(k)}
    schemas = provider_schemas()
    assert set(schemas) == set(constraints), "one schema file per required provider"
    for provider, constraint in constraints.items():
        for version in schemas[provider]["versions"]:
            assert allows(version, constraint), f"{provider} {version} vs {constraint!r}"
    # google is checked at the lowest release the module allows, not only at the newest
    lowest = re.search(r">=\s*([\d.]+)", constraints["google"])
    assert lowest and lowest.group(1) in schemas["google"]["versions"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform binary not installed")
def test_terraform_is_formatted() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TF)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_tenant_in_the_tenants_file_gets_a_topic() -> None:
    config = (TF / "modules" / "config" / "main.tf").read_text()
    # the topics come from yamldecode of the same file the runtime reads ...
    assert "yamldecode(file(var.tenants_file)).tenants" in config
    assert 'coalesce(try(t.topic, null), "alerts-${id}")' in config
    assert "tenants_file                  = var.tenants_file" in (TF / "config.tf").read_text()
    (topic,) = [b for t, n, b, _ in resources() if t == "google_pubsub_topic" and n == "tenant"]
    assert unquote(topic["for_each"]) == "${module.config.tenant_topics}"
    # ... and that expression, evaluated on the example file, names every tenant's topic,
    # the same names the runtime routes to.
    from alertbridge.tenants import load_tenants

    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    terraform_topics = {
        str(t["id"]): t.get("topic") or f"alerts-{t['id']}" for t in data["tenants"]
    }
    runtime_topics = {t.id: t.topic_name for t in load_tenants(EXAMPLE_TENANTS)}
    assert terraform_topics == runtime_topics and len(runtime_topics) == 2


@needs_terraform
def test_terraform_itself_names_every_tenant_topic_as_the_runtime_does(config_root: Path) -> None:
    from alertbridge.tenants import load_tenants

    runtime_topics = {t.id: t.topic_name for t in load_tenants(EXAMPLE_TENANTS)}
    assert evaluate(config_root)["tenant_topics"] == runtime_topics


def test_the_normaliser_subscription_skips_what_the_ingress_normalised_inline() -> None:
    from alertbridge.pipeline.envelope import SLOW_PATH_FILTER

    (body,) = [
        b for t, n, b, _ in resources() if t == "google_pubsub_subscription" and n == "normalize"
    ]
    assert unquote(body["filter"]) == SLOW_PATH_FILTER


def test_every_subscription_dead_letters_or_says_why_not() -> None:
    subs = [(n, b, p) for t, n, b, p in resources() if t == "google_pubsub_subscription"]
    assert {n for n, _, _ in subs} >= {"normalize", "dead_letter_inspect", "tenant", "notify"}
    for name, body, path in subs:
        if name == "dead_letter_inspect":
            text = path.read_text()
            assert (
                "A dead-letter\n# policy on the dead-letter topic's own subscription "
                "would only loop" in text
            )
            continue
        policy = first(body.get("dead_letter_policy"))
        assert policy, f"subscription {name} has no dead_letter_policy"
        assert "google_pubsub_topic.dead_letter.id" in str(policy["dead_letter_topic"])
        assert "var.max_delivery_attempts" in str(policy["max_delivery_attempts"])
        assert first(body.get("retry_policy")), f"subscription {name} has no retry_policy"


def test_ingest_topic_keeps_messages_for_replay() -> None:
    (ingest,) = [b for t, n, b, _ in resources() if t == "google_pubsub_topic" and n == "ingest"]
    assert "var.ingest_retention" in str(ingest["message_retention_duration"])
    assert unquote(variables()["ingest_retention"]["default"]) == "604800s"


def test_no_service_account_gets_project_wide_publisher_editor_or_owner() -> None:
    forbidden = {
        "roles/pubsub.publisher",
        "roles/pubsub.editor",
        "roles/pubsub.admin",
        "roles/editor",
        "roles/owner",
    }
    for rtype, name, body, _ in resources():
        if rtype in (
            "google_project_iam_member",
            "google_project_iam_binding",
            "google_project_iam_policy",
        ):
            assert unquote(body["role"]) not in forbidden, f"{rtype}.{name} grants {body['role']}"
    publishers = [
        (n, b)
        for t, n, b, _ in resources()
        if t == "google_pubsub_topic_iam_member" and unquote(b["role"]) == "roles/pubsub.publisher"
    ]
    topics = {n: str(b["topic"]) for n, b in publishers}
    assert set(topics) == {
        "ingest_publisher",
        "tenant_publisher",
        "dead_letter_publisher",
        "agent_dead_letter_publisher",
    }
    assert "google_pubsub_topic.ingest.name" in topics["ingest_publisher"]
    assert "google_pubsub_topic.tenant[each.value.tenant].name" in topics["tenant_publisher"]
    assert "google_pubsub_topic.dead_letter.name" in topics["dead_letter_publisher"]
    assert "google_pubsub_topic.dead_letter.name" in topics["agent_dead_letter_publisher"]
    # every function-facing grant is for_each over what the functions map says it needs
    grants = [
        (t, n, b)
        for t, n, b, _ in resources()
        if t.endswith("_iam_member") and "local.function_sa" in str(b.get("member"))
    ]
    assert len(grants) >= 8
    for t, n, b in grants:
        assert "local.grants." in str(b["for_each"]), f"{t}.{n} is not derived from the map"


def test_one_function_resource_and_one_service_account_per_function() -> None:
    functions = [(n, b) for t, n, b, _ in resources() if t == "google_cloudfunctions2_function"]
    assert [n for n, _ in functions] == ["function"]  # for_each over the map, not a copy each
    ((_, function),) = functions
    assert unquote(function["for_each"]) == "${module.config.functions}"
    accounts = [b for t, n, b, _ in resources() if t == "google_service_account"]
    assert len(accounts) == 2  # one per function, and the push identity
    (per_function,) = [
        b for t, n, b, _ in resources() if t == "google_service_account" and n == "function"
    ]
    assert per_function["for_each"] == function["for_each"]
    own = "${google_service_account.function[each.key].email}"
    assert first(function["service_config"])["service_account_email"] == own
    (trigger,) = [
        spec for d in function["dynamic"] for k, spec in d.items() if unquote(k) == "event_trigger"
    ]
    assert first(trigger["content"])["service_account_email"] == own


def test_functions_use_a_python_3_11_plus_runtime_and_secrets_come_from_secret_manager() -> None:
    default = unquote(variables()["python_runtime"]["default"])
    assert re.fullmatch(r"python3(1[1-9])", default)
    function = next(b for t, n, b, _ in resources() if t == "google_cloudfunctions2_function")
    service = first(function["service_config"])
    assert "secret_environment_variables" in json.dumps(service)
    config = (TF / "modules" / "config" / "main.tf").read_text()
    env_keys = set(config.split("common_env = {", 1)[1].split("}", 1)[0].split())
    assert "ALERTBRIDGE_TENANTS_FILE" in env_keys
    assert (
        not {
            "ALERTBRIDGE_JWT_KEYS",
            "ALERTBRIDGE_ADOBE_CLIENT_SECRET",
            "ALERTBRIDGE_TENANTS",
        }
        & env_keys
    )


def test_no_secret_value_is_written_in_a_tf_file() -> None:
    secretish = re.compile(
        r"(secret_data|password|private_key|client_secret|routing_key)\s*=\s*"
        r"\"(?![A-Z][A-Z0-9_]*\")[^\"$]+\"",
        re.I,
    )  # an env var name is not a value
    # Secret values are added out of band, so they never enter state: the one version the
    # module writes is the tenants file (hashes, routing), from that file, and only when no
    # existing secret is named instead.
    versions = [
        (t, n, b)
        for kind, t, n, b, _ in module_blocks()
        if t == "google_secret_manager_secret_version"
    ]
    assert [n for _, n, _ in versions] == ["tenants"], "values belong out of band"
    ((_, _, tenants),) = versions
    assert tenants["secret_data"] == "${jsonencode(yamldecode(file(var.tenants_file)))}"
    assert "var.tenants_secret_id == null" in tenants["count"]
    for path in TF_FILES:
        text = path.read_text()
        assert not secretish.search(text), f"{path}: literal secret"
        assert "scrypt$" not in text and "BEGIN PRIVATE KEY" not in text


def test_every_variable_and_output_is_typed_and_described() -> None:
    for folder in (TF, TF / "modules" / "config"):
        parsed = hcl2.loads((folder / "variables.tf").read_text())
        declared = {unquote(k): v for block in parsed["variable"] for k, v in block.items()}
        assert declared
        for name, body in declared.items():
            assert body.get("type"), f"{folder}: variable {name} has no type"
            assert body.get("description"), f"{folder}: variable {name} has no description"
        outputs = hcl2.loads((folder / "outputs.tf").read_text())["output"]
        for block in outputs:
            for name, body in block.items():
                assert body.get("description"), f"{folder}: output {name} has no description"
    # the module passes every input of the config module, and only those
    config = hcl2.loads((TF / "config.tf").read_text())["module"][0]['"config"']
    inner = hcl2.loads((TF / "modules" / "config" / "variables.tf").read_text())["variable"]
    wanted = {unquote(k) for block in inner for k in block}
    assert {k for k in config if not is_marker(k)} - {"source"} == wanted


def test_module_layout_and_example() -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (TF / name).exists(), name
    assert (TF / "examples" / "basic" / "main.tf").exists()
    assert (TF / "examples" / "basic" / "terraform.tfvars.example").exists()


@pytest.mark.skipif(
    not (os.environ.get("CHECKOV") or shutil.which("checkov")),
    reason="checkov not installed (.ci/run installs it in its own venv)",
)
def test_checkov_passes_with_every_skip_justified() -> None:
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    assert checkov
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(TF),
            "--framework",
            "terraform",
            "--compact",
            "--quiet",
            "-o",
            "json",
            "--download-external-modules",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # no network: skip the guideline download
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed, [(c["check_id"], c["resource"]) for c in failed]
    for path in TF_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV\w*_\d+:\S", line), f"unjustified skip: {line}"


# ---- The functions map, evaluated by real Terraform -------------------------------------
# terraform/modules/config computes what is deployed (functions, env, secrets, grants, ticks)
# from the inputs and the tenants file alone, with no provider: so the real `terraform`
# binary evaluates it here, through the root module's own variables.tf and config.tf.

MAIN_PY = ROOT / "functions" / "main.py"
# Entry points the map may deploy ahead of main.py (none today).
PENDING_ENTRY_POINTS: set[str] = set()


def entry_points() -> dict[str, str]:
    """name -> decorator ("http" or "cloud_event") of every functions_framework entry point
    that functions/main.py defines."""
    found: dict[str, str] = {}
    for node in ast.parse(MAIN_PY.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Attribute)
                    and isinstance(deco.value, ast.Name)
                    and deco.value.id == "functions_framework"
                ):
                    found[node.name] = deco.attr
    # each registered source's HTTP function, which main.py defines from its spec
    from alertbridge.sources import specs

    found.update({spec.function: "http" for spec in specs()})
    # and their uvicorn twins (defined under `if SERVES_ASGI:`), which the map deploys
    found.update({f"{name}_asgi": "http" for name in [*(s.function for s in specs()), "ingress"]})
    return found


def flask_twins(defined: dict[str, str]) -> set[str]:
    """Entry points whose uvicorn twin (``<name>_asgi``) is what gets deployed."""
    return {name for name in defined if f"{name}_asgi" in defined}


class TerraformError(Exception):
    """terraform refused the inputs (a validation or precondition failed)."""


@pytest.fixture(scope="module")
def config_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root module made of terraform/variables.tf and terraform/config.tf as they are, with
    one output: everything the config module computes. `terraform init` needs no download."""
    root = tmp_path_factory.mktemp("tf-config")
    shutil.copy(TF / "variables.tf", root)
    shutil.copy(TF / "config.tf", root)
    shutil.copytree(TF / "modules", root / "modules")
    (root / "outputs.tf").write_text('output "config" {\n  value = module.config\n}\n')
    (root / "terraformrc").write_text("")
    result = terraform(root, "init", "-backend=false")
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def terraform(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run terraform in root without the user's CLI configuration (plugin caches, mirrors)."""
    return subprocess.run(
        ["terraform", *args, "-input=false", "-no-color"],
        cwd=root,
        env={
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(root / "terraformrc"),
            "TF_IN_AUTOMATION": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def evaluate(root: Path, tenants: Path = EXAMPLE_TENANTS, **inputs: Any) -> dict[str, Any]:
    """Apply the provider-free root with these inputs; the config module's outputs."""
    variables = {
        "project_id": "alertbridge-test",
        "region": "europe-west1",
        "tenants_file": str(tenants),
        "adobe_client_id": "alertbridge-test-client",
        "source_dir": str(ROOT / "functions"),
        **inputs,
    }
    run = f"{len(list(root.glob('*.tfvars.json')))}"
    (root / f"{run}.tfvars.json").write_text(json.dumps(variables))
    state = f"-state={run}.tfstate"
    applied = terraform(root, "apply", "-auto-approve", f"-var-file={run}.tfvars.json", state)
    if applied.returncode != 0:
        raise TerraformError(applied.stderr)
    out = subprocess.run(
        ["terraform", "output", "-no-color", "-json", state, "config"],
        cwd=root,
        env={**os.environ, "TF_CLI_CONFIG_FILE": str(root / "terraformrc")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    config: dict[str, Any] = json.loads(out.stdout)
    return config


def polling_tenants(tmp_path: Path) -> Path:
    """The example tenants file with globex polling CIH (which deploys the poller)."""
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    data["tenants"][1]["informatica"]["poll"] = {
        "base_url": "https://usw3.dm-us.informaticacloud.com",
        "session_env": "GLOBEX_CIH_SESSION",
    }
    polling = tmp_path / "tenants.yaml"
    polling.write_text(yaml.safe_dump(data))
    return polling


@needs_terraform
def test_the_functions_map_deploys_every_entry_point_of_main_py(
    config_root: Path, tmp_path: Path
) -> None:
    defined = entry_points()
    assert {"token", "subtask", "informatica", "adobe", "normalize", "notify"} <= set(defined)
    # ingress (all routes on one function) is in the map but off unless enabled; the poller
    # is deployed when some tenant polls
    functions = evaluate(
        config_root, tenants=polling_tenants(tmp_path), functions={"ingress": {"enabled": True}}
    )["functions"]
    deployed = {f["entry_point"]: (name, f) for name, f in functions.items()}
    assert all(name == entry.removesuffix("_asgi") for entry, (name, _) in deployed.items())
    # every HTTP function but the token endpoint is deployed as its uvicorn twin
    assert {e for e in deployed if e.endswith("_asgi")} == {
        f"{name}_asgi" for name in flask_twins(defined)
    }
    assert "token" in deployed and "token_asgi" not in defined
    missing = set(defined) - set(deployed) - flask_twins(defined)
    assert not missing, f"entry points of main.py the map does not deploy: {missing}"
    unknown = set(deployed) - set(defined) - PENDING_ENTRY_POINTS
    assert not unknown, f"the map deploys entry points main.py does not define: {unknown}"
    for entry, kind in defined.items():
        if entry in flask_twins(defined):
            continue
        name, f = deployed[entry]
        if kind == "http":  # senders call it from the internet and authenticate to it
            assert (f["trigger"], f["invoker"]) == ("http", "public"), name
        else:  # a CloudEvent function: a push subscription or an Eventarc trigger calls it
            assert (f["trigger"], f["invoker"]) in {("http", "push"), ("event", "self")}, name
            assert f["ingress"] == "ALLOW_INTERNAL_ONLY", name
    assert "ingress" not in evaluate(config_root)["functions"]


@needs_terraform
def test_the_poller_is_in_the_map_only_when_a_tenant_polls(
    config_root: Path, tmp_path: Path
) -> None:
    config = evaluate(config_root, tenants=polling_tenants(tmp_path))
    poller = config["functions"]["poll_cih"]
    assert poller["entry_point"] in entry_points()
    assert (poller["trigger"], poller["event_topic"]) == ("event", "cih_poll")
    assert poller["secret_env"] == {"GLOBEX_CIH_SESSION": "GLOBEX_CIH_SESSION"}
    assert poller["max_instance_count"] == 1  # the Events API allows 5 calls a minute
    assert config["ticks"]["cih_poll"]["schedule"] == "*/5 * * * *"
    assert "poll_cih" not in evaluate(config_root)["functions"]


# What each function reads or writes at run time (from the code it runs), independent of
# the module: env set from a secret, topics it publishes to, Firestore.
NEEDS: dict[str, dict[str, Any]] = {
    "token": {"secret_env": {"ALERTBRIDGE_JWT_KEYS"}, "env": {"ALERTBRIDGE_JWT_ACTIVE_KID"}},
    # the ingress functions normalise inline (pipeline/inline.py): alerts to the tenant
    # topics, and run order (CIH, Adobe) in Firestore
    "subtask": {"secret_env": {"ALERTBRIDGE_JWT_KEYS"}, "publishes": {"ingest", "tenants"}},
    "informatica": {
        "secret_env": {"ALERTBRIDGE_JWT_KEYS"},
        "publishes": {"ingest", "tenants"},
        "firestore": True,
    },
    "adobe": {
        "secret_env": {"ALERTBRIDGE_ADOBE_CLIENT_SECRET"},
        "env": {"ALERTBRIDGE_ADOBE_CLIENT_ID", "ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT"},
        "publishes": {"ingest", "tenants"},
        "firestore": True,
    },
    "normalize": {"publishes": {"tenants", "dead_letter"}, "firestore": True},
    "notify": {
        "secret_env": {
            "ACME_PAGERDUTY_ROUTING_KEY",
            "ACME_SLACK_WEBHOOK_URL",
            "GLOBEX_TEAMS_WEBHOOK_URL",
            "GLOBEX_OPSGENIE_API_KEY",
            "GLOBEX_WEBHOOK_URL",
            "GLOBEX_WEBHOOK_SECRET",
        },
        "env": {"ALERTBRIDGE_NOTIFY_BUDGET"},
        "publishes": {"dead_letter"},
        "firestore": True,
    },
    "sweep": {"publishes": {"tenants"}, "firestore": True},
    # the webhook secret tokens the example tenants file names, mounted into dbt's function only
    "dbt_cloud": {
        "secret_env": {"ACME_DBT_WEBHOOK_SECRET", "GLOBEX_DBT_WEBHOOK_SECRET"},
        "publishes": {"ingest", "tenants"},
        "firestore": True,
    },
    "check_expectations": {"publishes": {"tenants"}, "firestore": True},
}


@needs_terraform
def test_each_function_gets_the_env_secrets_and_grants_its_code_needs(config_root: Path) -> None:
    config = evaluate(config_root)
    functions, grants = config["functions"], config["grants"]
    assert set(NEEDS) == set(functions)
    for name, f in functions.items():
        need = NEEDS[name]
        env = set(f["env"])
        assert need.get("env", set()) <= env, name
        assert {"ALERTBRIDGE_PROJECT", "ALERTBRIDGE_TENANTS_FILE"} <= env, name
        assert set(f["secret_env"]) == need.get("secret_env", set()), name
        assert not set(f["secret_env"]) & env, f"{name}: a secret also set as plain env"
        # every secret a function reads is granted to its service account, and only those
        granted = {g["secret"] for g in grants["secret_access"].values() if g["function"] == name}
        assert granted == set(f["secret_env"].values()), name
        assert set(f["publishes"]) == need.get("publishes", set()), name
        assert (name in grants["ingest_publisher"]) == ("ingest" in f["publishes"]), name
        assert (name in grants["dead_letter_publisher"]) == ("dead_letter" in f["publishes"])
        tenant_grants = {
            g["tenant"] for g in grants["tenant_publisher"].values() if g["function"] == name
        }
        assert tenant_grants == (
            set(config["tenant_topics"]) if "tenants" in f["publishes"] else set()
        )
        assert (name in grants["firestore"]) == need.get("firestore", False), name
        # /health probes the ingest topic wherever the code publishes to it
        assert (name in grants["ingest_viewer"]) == (
            "ingest" in f["publishes"] or name == "normalize"
        )
    # nothing else may read the tenants file's secret, and everything needs it
    assert set(grants["tenants_reader"]) == set(functions)


@needs_terraform
def test_the_tenants_file_is_a_mounted_secret_not_an_environment_variable(
    config_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = evaluate(config_root)
    mount = config["tenants_mount"]
    path = f"{mount['dir']}/{mount['file']}"
    for name, f in config["functions"].items():
        assert f["env"]["ALERTBRIDGE_TENANTS_FILE"] == path, name
        assert "ALERTBRIDGE_TENANTS" not in f["env"], name
    # no password hash (nor anything else of the file's content) reaches env or outputs
    assert "scrypt$" in EXAMPLE_TENANTS.read_text() and "scrypt$" not in json.dumps(config)
    # the runtime reads the file at that path: no runtime change needed
    from alertbridge.runtime import Runtime

    mounted = tmp_path / mount["dir"].lstrip("/") / mount["file"]
    mounted.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE_TENANTS, mounted)
    monkeypatch.delenv("ALERTBRIDGE_TENANTS", raising=False)
    monkeypatch.setenv("ALERTBRIDGE_TENANTS_FILE", str(mounted))
    assert Runtime.from_env().tenants.get("4242") is not None
    # the root mounts it into every function and creates the secret from the same file
    (function,) = [b for t, n, b, _ in resources() if t == "google_cloudfunctions2_function"]
    volumes = json.dumps(first(function["service_config"]))
    assert '"secret_volumes"' in volumes and "module.config.tenants_mount.dir" in volumes
    (version,) = [b for t, n, b, _ in resources() if t == "google_secret_manager_secret_version"]
    assert "file(var.tenants_file)" in str(version["secret_data"])
    assert "var.tenants_secret_id == null" in str(version["count"])


@needs_terraform
def test_the_secret_holds_the_tenants_file_as_json_that_loads_to_the_same_tenants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module stores the tenants file as Terraform's own reading of it, in JSON; the
    functions (full model and the token function's accounts reader) read the same tenants
    from it as from the YAML file."""
    (version,) = [b for t, n, b, _ in resources() if t == "google_secret_manager_secret_version"]
    expression = str(version["secret_data"]).removeprefix("${").removesuffix("}")
    root = tmp_path / "secret"
    root.mkdir()
    (root / "main.tf").write_text(
        'variable "tenants_file" {\n  type = string\n}\n'
        f'output "secret_data" {{\n  value = {expression}\n}}\n'
    )
    (root / "terraformrc").write_text("")
    assert terraform(root, "init", "-backend=false").returncode == 0
    applied = terraform(root, "apply", "-auto-approve", f"-var=tenants_file={EXAMPLE_TENANTS}")
    assert applied.returncode == 0, applied.stderr
    out = subprocess.run(
        ["terraform", "output", "-raw", "secret_data"],
        cwd=root,
        env={**os.environ, "TF_CLI_CONFIG_FILE": str(root / "terraformrc")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.startswith("{"), out.stderr
    mounted = tmp_path / "tenants.yaml"
    mounted.write_text(out.stdout)
    from alertbridge.auth.accounts import load_accounts
    from alertbridge.runtime import Runtime

    monkeypatch.delenv("ALERTBRIDGE_TENANTS", raising=False)
    monkeypatch.setenv("ALERTBRIDGE_TENANTS_FILE", str(mounted))
    from_secret = Runtime.from_env().tenants
    from_yaml = load_tenants(EXAMPLE_TENANTS)
    assert from_secret.file.model_dump() == from_yaml.file.model_dump()
    accounts = load_accounts(None, mounted)
    for tenant in from_yaml:
        for account in tenant.service_accounts:
            assert accounts.account(account.username) == from_yaml.account(account.username)


@needs_terraform
def test_adobe_client_id_is_required_when_a_tenant_lists_an_ims_org(
    config_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(TerraformError, match="adobe_client_id must be set"):
        evaluate(config_root, adobe_client_id="")
    config = evaluate(config_root, adobe_client_id="abc123")
    adobe = config["functions"]["adobe"]["env"]
    assert adobe["ALERTBRIDGE_ADOBE_CLIENT_ID"] == "abc123"
    assert adobe["ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT"] == "false"
    opted_in = evaluate(config_root, adobe_allow_missing_recipient=True)
    assert (
        opted_in["functions"]["adobe"]["env"]["ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT"] == "true"
    )
    # without Adobe tenants the client id may stay empty
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    for tenant in data["tenants"]:
        tenant.pop("adobe")
    no_adobe = tmp_path / "tenants.yaml"
    no_adobe.write_text(yaml.safe_dump(data))
    assert "adobe" in evaluate(config_root, tenants=no_adobe, adobe_client_id="")["functions"]


@needs_terraform
def test_the_notifier_finishes_within_its_ack_deadline(config_root: Path) -> None:
    config = evaluate(config_root)
    assert config["notify_ack_deadline_seconds"] == 120
    notify = config["functions"]["notify"]
    assert notify["env"]["ALERTBRIDGE_NOTIFY_BUDGET"] == "90"
    assert notify["timeout_seconds"] >= 120
    longer = evaluate(config_root, notify_ack_deadline_seconds=300)["functions"]["notify"]
    assert longer["env"]["ALERTBRIDGE_NOTIFY_BUDGET"] == "270"
    assert longer["timeout_seconds"] >= 300
    for bad in (30, 601):
        with pytest.raises(TerraformError, match="between 60 and 600"):
            evaluate(config_root, notify_ack_deadline_seconds=bad)
    with pytest.raises(TerraformError, match="timeout_seconds"):
        evaluate(config_root, functions={"notify": {"timeout_seconds": 60}})
    (sub,) = [
        b for t, n, b, _ in resources() if t == "google_pubsub_subscription" and n == "notify"
    ]
    assert "notify_ack_deadline_seconds" in str(sub["ack_deadline_seconds"])


@needs_terraform
def test_the_sweep_runs_every_minute_on_a_tick_more_consumers_can_share(
    config_root: Path,
) -> None:
    config = evaluate(config_root)
    sweep = config["functions"]["sweep"]
    assert (sweep["entry_point"], sweep["trigger"], sweep["event_topic"]) == (
        "sweep",
        "event",
        "tick",
    )
    assert config["ticks"]["tick"] == {"topic": "alertbridge-tick", "schedule": "* * * * *"}
    assert sweep["timeout_seconds"] <= 60  # done before the next tick
    # each consumer has its own Eventarc trigger (its own subscription) on the tick topic
    (function,) = [b for t, n, b, _ in resources() if t == "google_cloudfunctions2_function"]
    trigger = json.dumps(function["dynamic"])
    assert "google_pubsub_topic.tick[event_trigger.value].id" in trigger
    assert "RETRY_POLICY_DO_NOT_RETRY" in trigger
    scheduler = [b for t, n, b, _ in resources() if t == "google_cloud_scheduler_job"]
    assert len(scheduler) == 1 and "module.config.ticks" in str(scheduler[0]["for_each"])


@needs_terraform
def test_an_unknown_function_override_is_refused(config_root: Path) -> None:
    with pytest.raises(TerraformError, match="normalise"):
        evaluate(config_root, functions={"normalise": {"max_instance_count": 3}})
    with pytest.raises(TerraformError, match="cannot be disabled"):
        evaluate(config_root, functions={"notify": {"enabled": False}})
    with pytest.raises(TerraformError, match="max_instance_count must be at least 1"):
        evaluate(config_root, functions={"sweep": {"max_instance_count": 0}})
    scaled = evaluate(config_root, functions={"normalize": {"max_instance_count": 3}})
    assert scaled["functions"]["normalize"]["max_instance_count"] == 3


# ---- The deploy archive ---------------------------------------------------------------

# Modules only local tooling uses: the deploy archive must not carry them to production.
DEV_ONLY = {
    "alertbridge/devstack.py",
    "alertbridge/emulator.py",
    "alertbridge/adobe_keys.py",
    "alertbridge/notify/capture.py",
    "alertbridge/tail.py",
    "alertbridge/replay.py",
    "alertbridge/cli.py",
    "alertbridge/client.py",
}


def archive_listing(config_root: Path, source_dir: Path) -> tuple[list[str], dict[str, str]]:
    """(the files every deploy archive holds, the archives by name -> their requirements
    file): the config module's own answer for source_dir, evaluated by terraform."""
    config = evaluate(config_root, source_dir=str(source_dir))
    return config["archive_files"], config["archives"]


@needs_terraform
def test_the_archive_leaves_out_tests_caches_docs_and_build_metadata(
    config_root: Path, tmp_path: Path
) -> None:
    for rel in (
        "main.py",
        "requirements.txt",
        "requirements-token.txt",
        "alertbridge/http.py",
        "alertbridge/notify/slack.py",
        "alertbridge/sources/subtask/openapi.yaml",
        "alertbridge/__pycache__/http.cpython-311.pyc",
        "alertbridge/notify/__pycache__/slack.cpython-311.pyc",
        "alertbridge/stray.pyc",
        "alertbridge.egg-info/PKG-INFO",
        "alertbridge/sources/subtask/samples/error.json",
        "alertbridge/sources/subtask/README.md",
        ".pytest_cache/v/cache/lastfailed",
        "tests/test_http.py",
        "alertbridge/notify/tests/test_slack.py",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    files, archives = archive_listing(config_root, tmp_path)
    assert files == [
        "alertbridge/http.py",
        "alertbridge/notify/slack.py",
        "alertbridge/sources/subtask/openapi.yaml",
        "main.py",
    ]
    # the requirements files are not code: each archive gets its own as requirements.txt
    assert archives == {"full": "requirements.txt", "token": "requirements-token.txt"}


@needs_terraform
def test_an_archive_whose_requirements_file_is_missing_is_refused(
    config_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "main.py").write_text("x")
    (tmp_path / "requirements.txt").write_text("x")
    with pytest.raises(TerraformError, match="make lock"):
        archive_listing(config_root, tmp_path)


def test_each_archive_installs_its_own_lock_as_requirements_txt() -> None:
    """main.tf zips the config module's files plus one requirements file per archive, named
    requirements.txt (all Cloud Build reads); each function is built from its archive."""
    (body,) = [
        b for t, n, b in blocks_in("data", (TF / "main.tf").read_text()) if t == "archive_file"
    ]
    assert unquote(body["for_each"]) == "${module.config.archives}"
    static = [s for s in body["source"]]
    assert [unquote(s["filename"]) for s in static] == ["requirements.txt"]
    assert "each.value" in unquote(static[0]["content"])
    (dynamic,) = body["dynamic"]
    assert unquote(dynamic['"source"']["for_each"]) == "${module.config.archive_files}"
    functions_tf = (TF / "functions.tf").read_text()
    assert "google_storage_bucket_object.source[each.value.archive].name" in functions_tf


@needs_terraform
def test_only_the_token_function_is_built_from_the_token_archive(config_root: Path) -> None:
    functions = evaluate(config_root)["functions"]
    assert {name for name, f in functions.items() if f["archive"] == "token"} == {"token"}
    assert {f["archive"] for f in functions.values()} == {"full", "token"}


@needs_terraform
def test_the_archive_holds_what_the_functions_run(config_root: Path) -> None:
    files, archives = archive_listing(config_root, ROOT / "functions")
    assert {"main.py", "alertbridge/http.py", "alertbridge/auth/tokens.py"} <= set(files)
    assert not [p for p in files if "__pycache__" in p or ".egg-info" in p]
    assert all((ROOT / "functions" / r).exists() for r in archives.values())


def test_the_root_module_defaults_source_dir_to_the_functions_directory() -> None:
    config = (TF / "config.tf").read_text()
    assert 'coalesce(var.source_dir, "${path.module}/../functions")' in config


@needs_terraform
def test_the_deploy_archive_holds_no_dev_only_module(config_root: Path) -> None:
    """The local tooling (alertbridge_dev: the stack, the demo, the fake Adobe key host and
    PagerDuty, tail, replay, the client) and the sources' samples never reach production."""
    listing, _ = archive_listing(config_root, ROOT / "functions")
    assert not DEV_ONLY & set(listing), sorted(DEV_ONLY & set(listing))
    assert {p.split("/")[0] for p in listing} == {"main.py", "alertbridge"}
    assert not [p for p in listing if "/samples/" in p or p.endswith(".md")]
    # what is left imports with nothing but the archive on the path: every module of it
    modules = sorted(
        p[:-3].replace("/", ".").removesuffix(".__init__")
        for p in listing
        if p.endswith(".py") and p != "main.py"
    )
    code = "import sys, importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "assert not [m for m in sys.modules if m.startswith('alertbridge_dev')]\n"
    source_dir = ROOT / "functions"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(source_dir)
    prelude = f"import sys; sys.path.insert(0, {str(source_dir)!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", prelude + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(modules) > 30


@needs_terraform
def test_expectations_are_checked_on_the_tick_and_a_tenant_with_only_expectations_is_watched(
    config_root: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(EXAMPLE_TENANTS.read_text())
    data["tenants"][1].pop("notify", None)  # globex: expectations, no destinations
    data["tenants"][1]["expectations"] = [
        {"name": "daily", "match": {"source": "adobe.flow_run"}, "every": "24h"}
    ]
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(data))
    config = evaluate(config_root, tenants=path)
    # the notifier records the signs of life, so globex's topic gets its subscription
    assert config["notify_tenants"] == ["4242", "5151"]
    checker = config["functions"]["check_expectations"]
    assert (checker["trigger"], checker["event_topic"]) == ("event", "tick")
    assert checker["max_instance_count"] == 1
