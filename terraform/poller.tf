# The Informatica CIH poller: Cloud Scheduler ticks a topic, an Eventarc-triggered function
# reads recent events of the tenants that set informatica.poll and publishes them to the
# ingest topic. Deployed only when some tenant polls.

resource "google_pubsub_topic" "cih_poll_tick" {
  #checkov:skip=CKV_GCP_83:carries only empty scheduler ticks; Google-managed encryption is enough
  count   = length(local.poll_tenants) > 0 ? 1 : 0
  project = var.project_id
  name    = "${var.prefix}-cih-poll-tick"
  labels  = var.labels
}

resource "google_cloud_scheduler_job" "cih_poll" {
  count     = length(local.poll_tenants) > 0 ? 1 : 0
  project   = var.project_id
  region    = var.region
  name      = "${var.prefix}-cih-poll"
  schedule  = var.cih_poll_schedule
  time_zone = "Etc/UTC"
  pubsub_target {
    topic_name = google_pubsub_topic.cih_poll_tick[0].id
    data       = base64encode("tick")
  }
}

resource "google_secret_manager_secret" "cih_session" {
  for_each  = local.poll_session_env
  project   = var.project_id
  secret_id = "${var.prefix}-${lower(replace(each.value, "_", "-"))}"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_cloudfunctions2_function" "poll_cih" {
  count       = length(local.poll_tenants) > 0 ? 1 : 0
  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-poll-cih"
  description = "alertbridge CIH poller: Events REST API -> ingest topic"
  labels      = var.labels

  build_config {
    runtime     = var.python_runtime
    entry_point = "poll_cih"
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory               = var.function_scaling.available_memory
    available_cpu                  = var.function_scaling.available_cpu
    max_instance_count             = 1 # one poller: the API allows 5 calls a minute
    timeout_seconds                = 120
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.poll_cih.email
    environment_variables          = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.poll_session_env
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.cih_session[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  # Ticks are disposable (the next one comes in minutes and the window overlaps), so the
  # Eventarc trigger does not retry and needs no dead-letter topic.
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.cih_poll_tick[0].id
    retry_policy          = "RETRY_POLICY_DO_NOT_RETRY"
    service_account_email = google_service_account.poll_cih.email
  }

  depends_on = [google_secret_manager_secret_iam_member.cih_session_accessor]
}

resource "google_service_account" "poll_cih" {
  project      = var.project_id
  account_id   = substr("${var.prefix}-poll-cih", 0, 30)
  display_name = "alertbridge CIH poller"
}

# The poller publishes to the ingest topic only, remembers what it saw in Firestore, reads
# the session secrets, and is invoked by its own Eventarc trigger.
resource "google_pubsub_topic_iam_member" "poll_ingest_publisher" {
  count   = length(local.poll_tenants) > 0 ? 1 : 0
  project = var.project_id
  topic   = google_pubsub_topic.ingest.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.poll_cih.email}"
}

resource "google_project_iam_member" "poll_firestore" {
  count   = length(local.poll_tenants) > 0 ? 1 : 0
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.poll_cih.email}"
}

resource "google_secret_manager_secret_iam_member" "cih_session_accessor" {
  for_each  = google_secret_manager_secret.cih_session
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.poll_cih.email}"
}

resource "google_cloud_run_service_iam_member" "poll_invoker" {
  count    = length(local.poll_tenants) > 0 ? 1 : 0
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.poll_cih[0].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.poll_cih.email}"
}
