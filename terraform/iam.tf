# Least privilege: one service account per function, topic-level grants only.

resource "google_service_account" "function" {
  for_each     = var.http_functions
  project      = var.project_id
  account_id   = substr("${var.prefix}-${replace(each.key, "_", "-")}", 0, 30)
  display_name = "alertbridge ${each.key} function"
}

resource "google_service_account" "normalize" {
  project      = var.project_id
  account_id   = substr("${var.prefix}-normalize", 0, 30)
  display_name = "alertbridge normaliser"
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = substr("${var.prefix}-push", 0, 30)
  display_name = "alertbridge Pub/Sub push identity (invokes the normaliser)"
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.project.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  secret_grants = merge([
    for fn, cfg in var.http_functions : {
      for s in cfg.secrets : "${fn}/${s}" => { function = fn, secret = s }
    }
  ]...)
}

# Ingress functions may publish to the ingest topic, nothing else.
resource "google_pubsub_topic_iam_member" "ingest_publisher" {
  for_each = local.publishing_functions
  project  = var.project_id
  topic    = google_pubsub_topic.ingest.name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
}

# The normaliser may publish to tenant topics and the dead-letter topic only.
resource "google_pubsub_topic_iam_member" "normalize_tenant_publisher" {
  for_each = google_pubsub_topic.tenant
  project  = var.project_id
  topic    = each.value.name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.normalize.email}"
}

resource "google_pubsub_topic_iam_member" "normalize_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.normalize.email}"
}

# /health probes the ingest topic (GetTopic) from every publishing function and the normaliser.
resource "google_pubsub_topic_iam_member" "ingest_viewer" {
  for_each = merge(
    { for k in keys(local.publishing_functions) : k => google_service_account.function[k].email },
    { normalize = google_service_account.normalize.email },
  )
  project = var.project_id
  topic   = google_pubsub_topic.ingest.name
  role    = "roles/pubsub.viewer"
  member  = "serviceAccount:${each.value}"
}

# Firestore for the run-order state (no narrower role exists for Firestore data access).
resource "google_project_iam_member" "normalize_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.normalize.email}"
}

# Dead-lettering: the Pub/Sub service agent publishes to the dead-letter topic and
# acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "agent_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_subscriber" {
  for_each = merge(
    { normalize = google_pubsub_subscription.normalize.name },
    { for k, s in google_pubsub_subscription.tenant : k => s.name },
    { for k, s in google_pubsub_subscription.notify : "notify-${k}" => s.name },
  )
  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Push with OIDC: the agent mints tokens for the push identity, which may invoke the normaliser.
resource "google_service_account_iam_member" "agent_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_service_iam_member" "push_invokes_normalize" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.normalize.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# Senders authenticate with alertbridge tokens or Adobe signatures, not Google identity.
resource "google_cloud_run_service_iam_member" "public_http" {
  #checkov:skip=CKV_GCP_102:senders do not hold Google identities; they authenticate to the function itself (alertbridge JWT, Adobe RSA signature)
  for_each = var.http_functions
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.http[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each  = local.secret_grants
  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_service_account" "notify" {
  project      = var.project_id
  account_id   = substr("${var.prefix}-notify", 0, 30)
  display_name = "alertbridge notifier"
}

# The notifier publishes failed deliveries to the dead-letter topic and keeps its
# page-once records in Firestore; it reads only the destination secrets.
resource "google_pubsub_topic_iam_member" "notify_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.notify.email}"
}

resource "google_project_iam_member" "notify_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.notify.email}"
}

resource "google_secret_manager_secret_iam_member" "notify_accessor" {
  for_each  = google_secret_manager_secret.notify
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.notify.email}"
}

resource "google_cloud_run_service_iam_member" "push_invokes_notify" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.notify.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}
