"""LiveRamp Safe Haven Sub-Task Messaging API: pipeline scripts post step failures
(seed 000), authenticated by the bearer tokens of ``alertbridge.auth``."""

from alertbridge.sources import SourceSpec

SPEC = SourceSpec(
    name="liveramp.subtask",
    function="subtask",
    path="/analytics-environment/v1/job-pub-sub-messages",
    methods=("POST",),
    handler="alertbridge.sources.subtask.ingress:handle",
    adapter="alertbridge.sources.subtask.adapter:parse",
    config_key="subtask",
    config="alertbridge.sources.subtask.config:SubtaskSettings",
    description="Sub-task error messages (LiveRamp Safe Haven Sub-Task Messaging API)",
)
