# Periodic work: Cloud Scheduler publishes a tick on a topic; each consumer function has its
# own Eventarc trigger (its own subscription) on it (modules/config, ticks). `tick` every
# minute: the auto-resolve sweep, and later consumers (issue 17's expectation checks) by
# adding a function with trigger "event" on it. `cih_poll` every 5 minutes, only when a
# tenant sets informatica.poll: the Informatica CIH poller.

resource "google_pubsub_topic" "tick" {
  #checkov:skip=CKV_GCP_83:carries only empty scheduler ticks; Google-managed encryption is enough
  for_each   = module.config.ticks
  project    = var.project_id
  name       = each.value.topic
  labels     = var.labels
  depends_on = [google_project_service.apis]
}

resource "google_cloud_scheduler_job" "tick" {
  for_each  = module.config.ticks
  project   = var.project_id
  region    = var.region
  name      = each.key == "cih_poll" ? "${var.prefix}-cih-poll" : "${var.prefix}-${replace(each.key, "_", "-")}"
  schedule  = each.value.schedule
  time_zone = "Etc/UTC"
  pubsub_target {
    topic_name = google_pubsub_topic.tick[each.key].id
    data       = base64encode("tick")
  }
  depends_on = [google_project_service.apis]
}

# Secrets of the CIH sessions the tenants file names (values added out of band).
resource "google_secret_manager_secret" "cih_session" {
  for_each  = toset(module.config.poll_session_env)
  project   = var.project_id
  secret_id = "${var.prefix}-${lower(replace(each.value, "_", "-"))}"
  labels    = var.labels
  replication {
    auto {}
  }
}
