output "functions" {
  description = "Functions to deploy, by name: entry point, trigger, env, secrets (env var -> secret key), shape, publishes, firestore."
  value       = local.functions

  precondition {
    condition     = alltrue([for name in keys(var.functions) : contains(keys(local.catalogue), name)])
    error_message = "functions: overrides name a function the module does not have: ${join(", ", setsubtract(keys(var.functions), keys(local.catalogue)))} (known: ${join(", ", sort(keys(local.catalogue)))})."
  }
  precondition {
    condition     = contains(keys(local.functions), "normalize") && contains(keys(local.functions), "notify")
    error_message = "functions: normalize and notify carry every alert (the push subscriptions call them); they cannot be disabled."
  }
  precondition {
    condition     = length(local.adobe_orgs) == 0 || var.adobe_client_id != ""
    error_message = "adobe_client_id must be set: a tenant lists adobe.ims_org_ids, and without the client id the Adobe endpoint cannot refuse events meant for another registration (recipient_client_id)."
  }
  precondition {
    condition     = !contains(keys(local.functions), "notify") || try(local.functions.notify.timeout_seconds, 0) >= var.notify_ack_deadline_seconds
    error_message = "functions.notify.timeout_seconds must be at least notify_ack_deadline_seconds (${var.notify_ack_deadline_seconds}): a push cut short by the timeout is redelivered and may send twice."
  }
  precondition {
    condition     = alltrue([for f in values(local.functions) : contains(keys(local.ticks), f.event_topic) if f.trigger == "event"])
    error_message = "every event-triggered function names a tick topic of this module."
  }
}

output "grants" {
  description = "What each function's service account may do, derived from the functions map."
  value       = local.grants
}

output "tenant_topics" {
  description = "Alert topic name of each tenant, by tenant id (the runtime's names)."
  value       = local.tenant_topics
}

output "notify_tenants" {
  description = "Ids of the tenants with on-call destinations (one notifier subscription each)."
  value       = local.notify_tenants
}

output "notify_secret_env" {
  description = "Env vars the tenants file names for destination secrets."
  value       = local.notify_secret_env
}

output "source_secret_env" {
  description = "Env vars the tenants file names for source secrets (e.g. dbt Cloud webhook tokens)."
  value       = sort(distinct(flatten(values(local.source_secret_env))))
}

output "poll_session_env" {
  description = "Env vars the tenants file names for CIH session ids."
  value       = local.poll_session_env
}

output "ticks" {
  description = "Scheduler ticks by key: topic name and cron schedule."
  value       = local.ticks
}

output "tenants_mount" {
  description = "Where the tenants file's secret is mounted in every function."
  value       = local.tenants_mount
}

output "ingest_topic" {
  description = "Name of the ingest topic."
  value       = local.ingest_topic
}

output "dead_letter_topic" {
  description = "Name of the dead-letter topic."
  value       = local.dead_letter_topic
}

output "notify_ack_deadline_seconds" {
  description = "Ack deadline of the notifier's push subscriptions."
  value       = var.notify_ack_deadline_seconds
}

output "source_dir" {
  description = "The functions/ directory the deploy archives are made of."
  value       = var.source_dir
}

output "archive_files" {
  description = "Files of source_dir every deploy archive holds, relative to it (no tests, samples, docs, hidden files, caches or requirements files)."
  value       = local.archive_files

  precondition {
    condition     = contains(local.archive_files, "main.py")
    error_message = "source_dir (${var.source_dir}) holds no main.py: point it at the functions/ directory."
  }
}

output "archives" {
  description = "Deploy archives the enabled functions use, by name: the file of source_dir each installs as its requirements.txt."
  value       = local.archives

  precondition {
    condition     = alltrue([for r in values(local.archives) : fileexists("${var.source_dir}/${r}")])
    error_message = "source_dir (${var.source_dir}) lacks a requirements file an archive installs: ${join(", ", values(local.archives))} (`make lock` writes them)."
  }
}
