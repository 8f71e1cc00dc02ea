/**
 * alertbridge on Google Cloud: Cloud Functions (2nd gen), Pub/Sub topics per tenant from
 * the same tenants file the runtime reads, dead-lettering, least-privilege service
 * accounts and Secret Manager for every secret.
 */

locals {
  # The one source of truth: the runtime validates this file on load, Terraform only reads it.
  tenants_yaml = file(var.tenants_file)
  tenants      = { for t in yamldecode(local.tenants_yaml).tenants : tostring(t.id) => t }
  tenant_topics = {
    for id, t in local.tenants : id => coalesce(try(t.topic, null), "alerts-${id}")
  }
  source_dir = coalesce(var.source_dir, "${path.module}/../functions")

  ingest_topic      = "${var.prefix}-ingest"
  dead_letter_topic = "${var.prefix}-dead-letter"

  publishing_functions = { for k, v in var.http_functions : k => v if v.publishes }

  # Tenants with on-call destinations get a notifier subscription; the secrets they name
  # (routing keys, webhook URLs) become Secret Manager secrets mapped to those env vars.
  notify_tenants = { for id, t in local.tenants : id => t if try(t.notify, null) != null }
  # Tenants whose CIH events are polled; the session ids they name are secrets too.
  poll_tenants     = { for id, t in local.tenants : id => t if try(t.informatica.poll, null) != null }
  poll_session_env = toset([for t in values(local.poll_tenants) : t.informatica.poll.session_env])
  notify_secret_env = toset(compact(flatten([
    for t in values(local.notify_tenants) : [
      try(t.notify.pagerduty.routing_key_env, ""),
      try(t.notify.slack.webhook_url_env, ""),
    ]
  ])))

  secrets = {
    jwt_keys            = "${var.prefix}-jwt-keys"
    adobe_client_secret = "${var.prefix}-adobe-client-secret"
  }
  secret_env = {
    jwt_keys            = "ALERTBRIDGE_JWT_KEYS"
    adobe_client_secret = "ALERTBRIDGE_ADOBE_CLIENT_SECRET"
  }

  common_env = {
    ALERTBRIDGE_PROJECT               = var.project_id
    ALERTBRIDGE_TENANTS               = local.tenants_yaml
    ALERTBRIDGE_INGEST_TOPIC          = local.ingest_topic
    ALERTBRIDGE_DEAD_LETTER_TOPIC     = local.dead_letter_topic
    ALERTBRIDGE_JWT_ACTIVE_KID        = var.jwt_active_kid
    ALERTBRIDGE_ADOBE_CLIENT_ID       = var.adobe_client_id
    ALERTBRIDGE_MAX_DELIVERY_ATTEMPTS = tostring(var.max_delivery_attempts)
    LOG_EXECUTION_ID                  = "true"
  }
}

data "google_project" "project" {
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "firestore.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
  ])
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# ---- Pub/Sub -------------------------------------------------------------------------

resource "google_pubsub_topic" "ingest" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption by default; set var.kms_key_name for CMEK (CSEK is not offered for Pub/Sub)
  project      = var.project_id
  kms_key_name = var.kms_key_name
  name         = local.ingest_topic
  # Raw events are kept so a fixed normaliser can replay them by seek.
  message_retention_duration = var.ingest_retention
  labels                     = var.labels
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption by default; set var.kms_key_name for CMEK (CSEK is not offered for Pub/Sub)
  project                    = var.project_id
  kms_key_name               = var.kms_key_name
  name                       = local.dead_letter_topic
  message_retention_duration = var.ingest_retention
  labels                     = var.labels
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "tenant" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption by default; set var.kms_key_name for CMEK (CSEK is not offered for Pub/Sub)
  for_each     = local.tenant_topics
  kms_key_name = var.kms_key_name
  project      = var.project_id
  name         = each.value
  labels       = merge(var.labels, { tenant = lower(replace(each.key, "/[^a-zA-Z0-9_-]/", "-")) })
}

# The normaliser is fed by a push subscription of our own rather than the subscription an
# Eventarc trigger creates, because only a subscription Terraform owns can carry the
# dead-letter and retry policies. functions-framework turns the push body into the same
# messagePublished CloudEvent an Eventarc trigger delivers.
resource "google_pubsub_subscription" "normalize" {
  project                    = var.project_id
  name                       = "${var.prefix}-normalize"
  topic                      = google_pubsub_topic.ingest.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.ingest_retention
  retain_acked_messages      = false
  labels                     = var.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.normalize.service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloudfunctions2_function.normalize.service_config[0].uri
    }
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = var.retry_backoff.minimum
    maximum_backoff = var.retry_backoff.maximum
  }
  expiration_policy {
    ttl = ""
  }
}

# Kept for people and `alertbridge replay`: dead letters are read here. A dead-letter
# policy on the dead-letter topic's own subscription would only loop, so it has none.
resource "google_pubsub_subscription" "dead_letter_inspect" {
  project                    = var.project_id
  name                       = "${var.prefix}-dead-letter-inspect"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.ingest_retention
  labels                     = var.labels
  expiration_policy {
    ttl = ""
  }
}

# The notifier: one ordered push subscription per tenant with destinations, so a resolve
# never overtakes its trigger (ordering key = dedup_key).
resource "google_pubsub_subscription" "notify" {
  for_each                = local.notify_tenants
  project                 = var.project_id
  name                    = "${var.prefix}-notify-${each.key}"
  topic                   = google_pubsub_topic.tenant[each.key].id
  enable_message_ordering = true
  ack_deadline_seconds    = 60
  labels                  = var.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.notify.service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloudfunctions2_function.notify.service_config[0].uri
    }
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = var.retry_backoff.minimum
    maximum_backoff = var.retry_backoff.maximum
  }
  expiration_policy {
    ttl = ""
  }
}

# Optional on-call subscriptions with attribute filters, e.g. only critical alerts.
resource "google_pubsub_subscription" "tenant" {
  for_each                = var.tenant_subscriptions
  project                 = var.project_id
  name                    = "${var.prefix}-${each.key}"
  topic                   = google_pubsub_topic.tenant[each.value.tenant_id].id
  filter                  = each.value.filter
  enable_message_ordering = true
  ack_deadline_seconds    = 60
  labels                  = var.labels

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = var.retry_backoff.minimum
    maximum_backoff = var.retry_backoff.maximum
  }
  expiration_policy {
    ttl = ""
  }
}

# ---- Secrets (values are added out of band, so they never enter Terraform state) --------

resource "google_secret_manager_secret" "notify" {
  for_each  = local.notify_secret_env
  project   = var.project_id
  secret_id = "${var.prefix}-${lower(replace(each.value, "_", "-"))}"
  labels    = var.labels
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "secret" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = each.value
  labels    = var.labels
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# ---- Firestore (run order of Adobe flows) ----------------------------------------------

resource "google_firestore_database" "state" {
  count                   = var.create_firestore_database ? 1 : 0
  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.region
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  depends_on              = [google_project_service.apis]
}

# ---- Source ------------------------------------------------------------------------

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:holds only build archives of our own code, written by Terraform; no data worth access logs
  project                     = var.project_id
  name                        = "${var.project_id}-${var.prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = var.labels
  versioning {
    enabled = true
  }
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = local.source_dir
  output_path = "${path.root}/.build/${var.prefix}-source.zip"
  excludes    = ["**/__pycache__/**", "**/*.pyc", "*.egg-info/**"]
}

resource "google_storage_bucket_object" "source" {
  # The content hash in the name makes every code change a new object, so functions redeploy.
  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}
