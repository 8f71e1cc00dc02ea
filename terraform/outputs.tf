output "function_urls" {
  description = "HTTPS URL of each HTTP function; senders append the endpoint path."
  value       = { for k, f in google_cloudfunctions2_function.http : k => f.service_config[0].uri }
}

output "normalize_url" {
  description = "URL of the normaliser (internal ingress; Pub/Sub push only)."
  value       = google_cloudfunctions2_function.normalize.service_config[0].uri
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

output "secrets" {
  description = "Secret Manager secrets to fill (gcloud secrets versions add), by purpose or by the env var the tenants file names."
  value = merge(
    { for k, s in google_secret_manager_secret.secret : k => s.id },
    { for k, s in google_secret_manager_secret.notify : k => s.id },
  )
}

output "service_accounts" {
  description = "Service account of each function."
  value = merge(
    { for k, sa in google_service_account.function : k => sa.email },
    {
      normalize = google_service_account.normalize.email
      notify    = google_service_account.notify.email
      push      = google_service_account.push.email
    },
  )
}
