# Least privilege: one service account per function, granted what its entry of the functions
# map says it touches (module.config.grants), topic- and secret-level grants only.

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.project.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  grants       = module.config.grants
  function_sa  = { for k, sa in google_service_account.function : k => "serviceAccount:${sa.email}" }
}

resource "google_service_account" "function" {
  for_each     = module.config.functions
  project      = var.project_id
  account_id   = substr("${var.prefix}-${replace(each.key, "_", "-")}", 0, 30)
  display_name = "alertbridge ${each.key} function"
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = substr("${var.prefix}-push", 0, 30)
  display_name = "alertbridge Pub/Sub push identity (invokes the normaliser and the notifier)"
}

# Ingress functions and the CIH poller publish raw events to the ingest topic.
resource "google_pubsub_topic_iam_member" "ingest_publisher" {
  for_each = toset(local.grants.ingest_publisher)
  project  = var.project_id
  topic    = google_pubsub_topic.ingest.name
  role     = "roles/pubsub.publisher"
  member   = local.function_sa[each.key]
}

# The normaliser (alerts) and the sweep (auto-resolves) publish to tenant topics.
resource "google_pubsub_topic_iam_member" "tenant_publisher" {
  for_each = local.grants.tenant_publisher
  project  = var.project_id
  topic    = google_pubsub_topic.tenant[each.value.tenant].name
  role     = "roles/pubsub.publisher"
  member   = local.function_sa[each.value.function]
}

# The normaliser and the notifier dead-letter what they cannot handle.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = toset(local.grants.dead_letter_publisher)
  project  = var.project_id
  topic    = google_pubsub_topic.dead_letter.name
  role     = "roles/pubsub.publisher"
  member   = local.function_sa[each.key]
}

# /health probes the ingest topic (GetTopic).
resource "google_pubsub_topic_iam_member" "ingest_viewer" {
  for_each = toset(local.grants.ingest_viewer)
  project  = var.project_id
  topic    = google_pubsub_topic.ingest.name
  role     = "roles/pubsub.viewer"
  member   = local.function_sa[each.key]
}

# Firestore: run order, page-once records, the poller's cursor (no narrower role exists
# for Firestore data access).
resource "google_project_iam_member" "firestore" {
  for_each = toset(local.grants.firestore)
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = local.function_sa[each.key]
}

# Each function reads only the secrets its env names ...
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each  = local.grants.secret_access
  project   = var.project_id
  secret_id = local.secret_ids[each.value.secret]
  role      = "roles/secretmanager.secretAccessor"
  member    = local.function_sa[each.value.function]
}

# ... and the tenants file, which every function loads.
resource "google_secret_manager_secret_iam_member" "tenants_reader" {
  for_each  = toset(local.grants.tenants_reader)
  project   = var.project_id
  secret_id = local.tenants_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.function_sa[each.key]
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

# Push with OIDC: the agent mints tokens for the push identity, which may invoke the
# push-fed functions (normaliser, notifier) and nothing else.
resource "google_service_account_iam_member" "agent_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_service_iam_member" "push_invoker" {
  for_each = toset(local.grants.push)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# Event functions are invoked by their own Eventarc trigger, as their own service account:
# the Pub/Sub agent mints its tokens (granted by default only where the agent was enabled
# after 8 April 2021; explicit here so older projects work too).
resource "google_service_account_iam_member" "agent_token_creator_event" {
  for_each           = toset(local.grants.self)
  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_service_iam_member" "self_invoker" {
  for_each = toset(local.grants.self)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = local.function_sa[each.key]
}

# Senders authenticate with alertbridge tokens or Adobe signatures, not Google identity.
resource "google_cloud_run_service_iam_member" "public_http" {
  #checkov:skip=CKV_GCP_102:senders do not hold Google identities; they authenticate to the function itself (alertbridge JWT, Adobe RSA signature)
  for_each = toset(local.grants.public)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
