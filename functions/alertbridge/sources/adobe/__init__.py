"""Adobe Experience Platform flow-run notifications, delivered by Adobe I/O Events
webhooks (seed 002): RSA-signed by Adobe, routed to a tenant by IMS org and sandbox."""

from alertbridge.sources import SourceSpec

SPEC = SourceSpec(
    name="adobe.flow_run",
    function="adobe",
    path="/adobe/v1/flow-run-notifications",
    methods=("GET", "POST"),
    handler="alertbridge.sources.adobe.ingress:handle",
    adapter="alertbridge.sources.adobe.adapter:parse",
    config_key="adobe",
    config="alertbridge.sources.adobe.config:AdobeSettings",
    run_ordered=True,
    description="Adobe Experience Platform flow-run webhooks (Adobe I/O Events)",
)
