"""dbt Cloud job webhooks, the fourth source: everything about it lives in this folder.

``PROTOCOL.md`` (what dbt documents, with links), ``samples/`` (dbt's example payloads),
``config.py`` (the tenants-file block), ``signature.py`` (the Authorization HMAC),
``ingress.py`` (the HTTP handler), ``adapter.py`` (payload → alerts, pure) and
``openapi.yaml`` (its path).
"""

from alertbridge.sources import SourceSpec

SPEC = SourceSpec(
    name="dbt_cloud.job_run",
    function="dbt_cloud",
    path="/dbt-cloud/v1/webhooks",
    methods=("POST",),
    handler="alertbridge.sources.dbt_cloud.ingress:handle",
    adapter="alertbridge.sources.dbt_cloud.adapter:parse_envelope",
    config_key="dbt_cloud",
    config="alertbridge.sources.dbt_cloud.config:DbtCloudSettings",
    run_ordered=True,
    description="dbt Cloud job webhooks (job.run.completed / job.run.errored)",
)
