/**
 * alertbridge on Google Cloud: Cloud Functions (2nd gen), Pub/Sub topics per tenant from
 * the same tenants file the runtime reads, dead-lettering, least-privilege service
 * accounts and Secret Manager for every secret.
 */

locals {
  # the functions the Pub/Sub push subscriptions call
  normalize = google_cloudfunctions2_function.function["normalize"]
  notify    = google_cloudfunctions2_function.function["notify"]

  secrets = {
    jwt_keys            = "${var.prefix}-jwt-keys"
    adobe_client_secret = "${var.prefix}-adobe-client-secret"
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
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
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
  name         = module.config.ingest_topic
  # Raw events are kept so a fixed normaliser can replay them by seek.
  message_retention_duration = var.ingest_retention
  labels                     = var.labels
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption by default; set var.kms_key_name for CMEK (CSEK is not offered for Pub/Sub)
  project                    = var.project_id
  kms_key_name               = var.kms_key_name
  name                       = module.config.dead_letter_topic
  message_retention_duration = var.ingest_retention
  labels                     = var.labels
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "tenant" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption by default; set var.kms_key_name for CMEK (CSEK is not offered for Pub/Sub)
  for_each     = module.config.tenant_topics
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
  # The ingress normalises most events itself and marks their raw copy normalized=inline;
  # the normaliser is the slow path for the rest (pipeline/inline.py).
  filter                = "NOT attributes:normalized"
  retain_acked_messages = false
  labels                = var.labels

  push_config {
    push_endpoint = local.normalize.service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.normalize.service_config[0].uri
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
  for_each                = toset(module.config.notify_tenants)
  project                 = var.project_id
  name                    = "${var.prefix}-notify-${each.key}"
  topic                   = google_pubsub_topic.tenant[each.key].id
  enable_message_ordering = true
  # Above the notifier's delivery budget (ALERTBRIDGE_NOTIFY_BUDGET = this - 30 s), so
  # Pub/Sub does not redeliver while a slow destination is still being tried.
  ack_deadline_seconds = var.notify_ack_deadline_seconds
  labels               = var.labels

  push_config {
    push_endpoint = local.notify.service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.notify.service_config[0].uri
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
  for_each  = toset(module.config.notify_secret_env)
  project   = var.project_id
  secret_id = "${var.prefix}-${lower(replace(each.value, "_", "-"))}"
  labels    = var.labels
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "source" {
  for_each  = toset(module.config.source_secret_env)
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

# The tenants file (password hashes, routing names): a secret mounted into every function.
# Unless tenants_secret_id names an existing secret, the module adds the file as a version:
# its content is then in Terraform state (as the version's data, marked sensitive), though
# no longer in any function's environment.
resource "google_secret_manager_secret" "tenants" {
  count     = var.tenants_secret_id == null ? 1 : 0
  project   = var.project_id
  secret_id = "${var.prefix}-tenants"
  labels    = var.labels
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# Stored as JSON (a subset of YAML, so every reader still reads it): the data exactly as
# Terraform's yamldecode read it to create the topics, and the functions parse it without
# loading the YAML library (the token function's cold start; see README "Cold start").
resource "google_secret_manager_secret_version" "tenants" {
  count       = var.tenants_secret_id == null ? 1 : 0
  secret      = google_secret_manager_secret.tenants[0].id
  secret_data = jsonencode(yamldecode(file(var.tenants_file)))
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

# One archive per requirements lock (modules/config: archives): the same code in each, listed
# by the config module (archive_files: only what the functions run), and the lock that
# archive's functions install as requirements.txt. Every file is text (file() reads UTF-8).
data "archive_file" "source" {
  for_each    = module.config.archives
  type        = "zip"
  output_path = "${path.root}/.build/${var.prefix}-${each.key}.zip"
  dynamic "source" {
    for_each = module.config.archive_files
    content {
      content  = file("${module.config.source_dir}/${source.value}")
      filename = source.value
    }
  }
  source {
    content  = file("${module.config.source_dir}/${each.value}")
    filename = "requirements.txt"
  }
  output_file_mode = "0644" # the same archive, and hash, whatever the local umask
}

resource "google_storage_bucket_object" "source" {
  for_each = data.archive_file.source
  # The content hash in the name makes every code change a new object, so functions redeploy.
  name   = "source-${each.key}-${each.value.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = each.value.output_path
}
