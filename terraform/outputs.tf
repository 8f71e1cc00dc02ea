output "function_urls" {
  description = "HTTPS URL of each public HTTP function; senders append the endpoint path."
  value = {
    for k in module.config.grants.public : k => google_cloudfunctions2_function.function[k].service_config[0].uri
  }
}

output "normalize_url" {
  description = "URL of the normaliser (internal ingress; Pub/Sub push only)."
  value       = local.normalize.service_config[0].uri
}

output "functions" {
  description = "Every deployed function, by name: its Cloud Functions name, entry point and trigger."
  value = {
    for k, f in google_cloudfunctions2_function.function : k => {
      name        = f.name
      entry_point = module.config.functions[k].entry_point
      trigger     = module.config.functions[k].trigger
    }
  }
}

output "ingest_topic" {
  description = "Topic the ingress functions publish raw events to."
  value       = google_pubsub_topic.ingest.id
}

output "dead_letter_topic" {
  description = "Topic of messages that could not be normalised, with the reason in attributes."
  value       = google_pubsub_topic.dead_letter.id
}

output "tenant_topics" {
  description = "Alert topic of each tenant, by tenant id."
  value       = { for id, t in google_pubsub_topic.tenant : id => t.id }
}

output "tick_topics" {
  description = "Scheduler tick topics by key (tick: every minute; cih_poll when a tenant polls); a periodic consumer subscribes to one."
  value       = { for k, t in google_pubsub_topic.tick : k => t.id }
}

output "secrets" {
  description = "Secret Manager secrets to fill (gcloud secrets versions add), by purpose or by the env var the tenants file names; tenants is filled by the module unless tenants_secret_id is set."
  value = merge(
    { for k, s in google_secret_manager_secret.secret : k => s.id },
    { for k, s in google_secret_manager_secret.notify : k => s.id },
    { for k, s in google_secret_manager_secret.cih_session : k => s.id },
    { tenants = var.tenants_secret_id == null ? google_secret_manager_secret.tenants[0].id : "projects/${var.project_id}/secrets/${var.tenants_secret_id}" },
  )
}

output "service_accounts" {
  description = "Service account of each function, and the push identity."
  value = merge(
    { for k, sa in google_service_account.function : k => sa.email },
    { push = google_service_account.push.email },
  )
}
