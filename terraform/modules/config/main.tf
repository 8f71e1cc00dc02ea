/**
 * What alertbridge deploys, computed from the inputs and the tenants file alone: the map of
 * functions (entry point, trigger, env, secrets, shape, what each may touch), the topics and
 * the ticks. It declares no resource and needs no provider, so the real `terraform` binary
 * evaluates it offline (tests/test_terraform.py); the root module turns it into resources,
 * one google_cloudfunctions2_function for_each over `functions`.
 */

locals {
  tenants = { for t in yamldecode(file(var.tenants_file)).tenants : tostring(t.id) => t }
  tenant_topics = {
    for id, t in local.tenants : id => coalesce(try(t.topic, null), "alerts-${id}")
  }
  ingest_topic      = "${var.prefix}-ingest"
  dead_letter_topic = "${var.prefix}-dead-letter"

  # Tenants with on-call destinations get a notifier subscription; the secrets they name
  # (routing keys, webhook URLs, Opsgenie keys, Standard Webhooks signing secrets) become
  # Secret Manager secrets mapped to those env vars.
  # Expectations need the notifier too: it records every alert as a sign of life.
  notify_tenants = sort([
    for id, t in local.tenants : id
    if try(t.notify, null) != null || length(try(t.expectations, [])) > 0
  ])
  notify_secret_env = sort(distinct(compact(flatten([
    for id in local.notify_tenants : [
      try(local.tenants[id].notify.pagerduty.routing_key_env, ""),
      try(local.tenants[id].notify.slack.webhook_url_env, ""),
      try(local.tenants[id].notify.teams.webhook_url_env, ""),
      try(local.tenants[id].notify.opsgenie.api_key_env, ""),
      try(local.tenants[id].notify.webhook.url_env, ""),
      try(local.tenants[id].notify.webhook.secret_env, ""),
    ]
  ]))))
  # Tenants whose CIH events are polled; the session ids they name are secrets too.
  poll_tenants = sort([for id, t in local.tenants : id if try(t.informatica.poll, null) != null])
  poll_session_env = sort(distinct([
    for id in local.poll_tenants : local.tenants[id].informatica.poll.session_env
  ]))
  adobe_orgs = flatten([for t in values(local.tenants) : try(t.adobe.ims_org_ids, [])])
  # Secrets the tenants file names for the sources that authenticate with them (dbt Cloud's
  # webhook secret tokens): one Secret Manager secret each, mounted into that source only.
  source_secret_env = {
    dbt_cloud = sort(distinct(compact([
      for t in values(local.tenants) : try(t.dbt_cloud.webhook_secret_env, "")
    ])))
  }

  # The tenants file is a Secret Manager secret mounted as a file (a secret volume owns its
  # whole directory); ALERTBRIDGE_TENANTS_FILE points the runtime at it.
  tenants_mount = { dir = "/etc/alertbridge/tenants", file = "tenants.yaml" }

  # The notifier must answer a push before its ack deadline, or Pub/Sub redelivers while the
  # first attempt still runs: its delivery budget leaves a margin for the claim and the ack.
  notify_budget_s = var.notify_ack_deadline_seconds - 30

  # Periodic work: Cloud Scheduler publishes a tick on a topic; every consumer has its own
  # Eventarc trigger (its own subscription) on it, so more consumers subscribe by adding a
  # function with trigger "event" and event_topic "tick".
  ticks = merge(
    { tick = { topic = "${var.prefix}-tick", schedule = var.tick_schedule } },
    length(local.poll_tenants) == 0 ? {} : {
      cih_poll = { topic = "${var.prefix}-cih-poll-tick", schedule = var.cih_poll_schedule }
    },
  )

  common_env = {
    ALERTBRIDGE_PROJECT               = var.project_id
    ALERTBRIDGE_TENANTS_FILE          = "${local.tenants_mount.dir}/${local.tenants_mount.file}"
    ALERTBRIDGE_INGEST_TOPIC          = local.ingest_topic
    ALERTBRIDGE_DEAD_LETTER_TOPIC     = local.dead_letter_topic
    ALERTBRIDGE_MAX_DELIVERY_ATTEMPTS = tostring(var.max_delivery_attempts)
    LOG_EXECUTION_ID                  = "true"
  }
  jwt_env = { ALERTBRIDGE_JWT_ACTIVE_KID = var.jwt_active_kid }
  adobe_env = {
    ALERTBRIDGE_ADOBE_CLIENT_ID               = var.adobe_client_id
    ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT = tostring(var.adobe_allow_missing_recipient)
  }
  # env var -> secret key (the root resolves a key to its Secret Manager secret)
  jwt_secret   = { ALERTBRIDGE_JWT_KEYS = "jwt_keys" }
  adobe_secret = { ALERTBRIDGE_ADOBE_CLIENT_SECRET = "adobe_client_secret" }

  # Every entry point of functions/main.py. trigger: "http" (invoker "public": senders on
  # the internet; "push": a Pub/Sub push subscription with OIDC) or "event" (an Eventarc
  # trigger on a tick topic, invoked as the function's own service account). publishes:
  # "ingest", "tenants" (every tenant topic), "dead_letter". Each function runs as its own
  # service account, granted exactly this.
  defaults = {
    enabled            = true
    archive            = "full" # the deploy archive it is built from (archives below)
    trigger            = "http"
    invoker            = "public"
    event_topic        = null
    ingress            = var.http_ingress
    asgi               = false
    env                = {}
    secret_env         = {}
    publishes          = []
    firestore          = false
    available_memory   = var.function_scaling.available_memory
    available_cpu      = var.function_scaling.available_cpu
    concurrency        = var.function_scaling.concurrency
    timeout_seconds    = var.function_scaling.timeout_seconds
    min_instance_count = var.function_scaling.min_instance_count
    max_instance_count = var.function_scaling.max_instance_count
  }
  catalogue = {
    token = {
      description = "alertbridge token endpoint: service account credentials -> JWT"
      archive     = "token" # HS256 and scrypt: no cryptography, Google clients or pydantic
      env         = local.jwt_env
      secret_env  = local.jwt_secret
    }
    subtask = {
      description = "alertbridge LiveRamp sub-task endpoint"
      asgi        = true # served by main.py's `subtask_asgi` (uvicorn)
      secret_env  = local.jwt_secret
      publishes   = ["ingest", "tenants"] # normalises inline (one hop)
    }
    informatica = {
      description = "alertbridge Informatica CIH endpoint"
      asgi        = true # served by main.py's `informatica_asgi` (uvicorn)
      secret_env  = local.jwt_secret
      publishes   = ["ingest", "tenants"] # normalises inline (one hop)
      firestore   = true                  # run order, within ALERTBRIDGE_INLINE_STATE_BUDGET
    }
    adobe = {
      description = "alertbridge Adobe I/O Events webhook"
      asgi        = true # served by main.py's `adobe_asgi` (uvicorn)
      env         = local.adobe_env
      secret_env  = local.adobe_secret
      publishes   = ["ingest", "tenants"] # normalises inline (one hop)
      firestore   = true                  # run order, within ALERTBRIDGE_INLINE_STATE_BUDGET
    }
    dbt_cloud = {
      description = "alertbridge dbt Cloud job webhooks"
      asgi        = true # served by main.py's `dbt_cloud_asgi` (uvicorn)
      secret_env  = { for env in local.source_secret_env.dbt_cloud : env => env }
      publishes   = ["ingest", "tenants"] # one hop: alerts straight to the tenant topic
      firestore   = true                  # run order, inline
    }
    # Every route on one function, for small deployments: off unless enabled.
    ingress = {
      description = "alertbridge: every HTTP route on one function"
      asgi        = true
      enabled     = false
      env         = merge(local.jwt_env, local.adobe_env)
      secret_env = merge(
        local.jwt_secret, local.adobe_secret,
        { for env in local.source_secret_env.dbt_cloud : env => env },
      )
      publishes = ["ingest", "tenants"]
      firestore = true
    }
    normalize = {
      description = "alertbridge normaliser: ingest envelope -> alert(s) -> tenant topic or dead letter"
      invoker     = "push"
      ingress     = "ALLOW_INTERNAL_ONLY" # Pub/Sub push from the same project is internal
      publishes   = ["tenants", "dead_letter"]
      firestore   = true # run order
      # one push delivery: publishes wait at most the 5 s publish timeout, Firestore seconds
      timeout_seconds = 60
    }
    notify = {
      description        = "alertbridge notifier: tenant alerts -> PagerDuty Events v2 and Slack"
      invoker            = "push"
      ingress            = "ALLOW_INTERNAL_ONLY"
      env                = { ALERTBRIDGE_NOTIFY_BUDGET = tostring(local.notify_budget_s) }
      secret_env         = { for env in local.notify_secret_env : env => env }
      publishes          = ["dead_letter"]
      firestore          = true # page-once records and send leases
      min_instance_count = 0
      timeout_seconds    = var.notify_ack_deadline_seconds
    }
    poll_cih = {
      description        = "alertbridge CIH poller: Events REST API -> ingest topic"
      enabled            = length(local.poll_tenants) > 0
      trigger            = "event"
      invoker            = "self"
      event_topic        = "cih_poll"
      ingress            = "ALLOW_INTERNAL_ONLY"
      secret_env         = { for env in local.poll_session_env : env => env }
      publishes          = ["ingest"]
      firestore          = true # the cursor of what was seen
      concurrency        = 1
      max_instance_count = 1 # one poller: the Events API allows 5 calls a minute
      timeout_seconds    = 120
    }
    sweep = {
      description        = "alertbridge sweep: auto-resolves incidents quiet for resolve_after"
      trigger            = "event"
      invoker            = "self"
      event_topic        = "tick"
      ingress            = "ALLOW_INTERNAL_ONLY"
      publishes          = ["tenants"] # the resolved alerts it decides on
      firestore          = true        # reads the notifier's records
      concurrency        = 1
      max_instance_count = 1
      timeout_seconds    = 55 # done before the next minute's tick
    }
    check_expectations = {
      description        = "alertbridge expectations: a firing alert for each expected run that is late"
      trigger            = "event"
      invoker            = "self"
      event_topic        = "tick"
      ingress            = "ALLOW_INTERNAL_ONLY"
      publishes          = ["tenants"] # the missing-run alerts and their resolves
      firestore          = true        # the last sign of life per expectation
      concurrency        = 1
      max_instance_count = 1 # one checker: its compare-and-set records are not contended
      timeout_seconds    = 55
    }
  }

  functions = {
    for name, spec in local.catalogue : name => merge(
      local.defaults,
      spec,
      { for k, v in try(var.functions[name], {}) : k => v if v != null },
      {
        # An HTTP source function is served by uvicorn with its publish awaited on the event
        # loop: main.py's `<name>_asgi` twin (functions/alertbridge/asgi.py).
        entry_point = try(spec.asgi, false) ? "${name}_asgi" : name
        env         = merge(local.common_env, try(spec.env, {}))
      },
    )
    if coalesce(try(var.functions[name].enabled, null), try(spec.enabled, null), true)
  }

  # Deploy archives. Each holds the same code (main.py and the package, without tests,
  # samples, docs, hidden files or caches) and, as requirements.txt, the lock its functions
  # install: the runtime lock, or for the token function its dependency group's
  # (pyproject.toml), so PyJWT finds no cryptography to import on a cold start.
  archive_requirements = {
    full  = "requirements.txt"
    token = "requirements-token.txt"
  }
  archive_files = sort([
    for f in fileset(var.source_dir, "**") : f
    if !can(regex("(^|/)(__pycache__|tests|samples|[^/]*\\.egg-info|\\.[^/]*)(/|$)", f))
    && !endswith(f, ".pyc") && !endswith(f, ".md") && !can(regex("^requirements[^/]*\\.txt$", f))
  ])
  archives = {
    for a in distinct([for f in values(local.functions) : f.archive]) : a => local.archive_requirements[a]
  }

  # What each function's service account is granted, derived from the map above.
  grants = {
    secret_access = merge([
      for fn, f in local.functions : {
        for env, secret in f.secret_env : "${fn}/${secret}" => { function = fn, secret = secret }
      }
    ]...)
    tenant_publisher = merge([
      for fn, f in local.functions : {
        for id in keys(local.tenant_topics) : "${fn}/${id}" => { function = fn, tenant = id }
      } if contains(f.publishes, "tenants")
    ]...)
    ingest_publisher      = sort([for fn, f in local.functions : fn if contains(f.publishes, "ingest")])
    dead_letter_publisher = sort([for fn, f in local.functions : fn if contains(f.publishes, "dead_letter")])
    # /health probes the ingest topic (GetTopic) from every function that publishes to it
    # and from the normaliser
    ingest_viewer = sort([
      for fn, f in local.functions : fn if contains(f.publishes, "ingest") || fn == "normalize"
    ])
    firestore      = sort([for fn, f in local.functions : fn if f.firestore])
    tenants_reader = sort(keys(local.functions))
    public         = sort([for fn, f in local.functions : fn if f.invoker == "public"])
    push           = sort([for fn, f in local.functions : fn if f.invoker == "push"])
    self           = sort([for fn, f in local.functions : fn if f.invoker == "self"])
  }
}
