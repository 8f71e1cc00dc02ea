"""Informatica Cloud Integration Hub events (seed 003): posted by the tenant or read by
the scheduled poller, routed by application name."""

from alertbridge.sources import SourceSpec

SPEC = SourceSpec(
    name="informatica.cih",
    function="informatica",
    path="/informatica/v1/events",
    methods=("POST",),
    handler="alertbridge.sources.informatica.ingress:handle",
    adapter="alertbridge.sources.informatica.adapter:parse",
    config_key="informatica",
    config="alertbridge.sources.informatica.config:InformaticaSettings",
    run_ordered=True,
    description="Informatica Cloud Integration Hub event payloads",
)
