# One Cloud Function (2nd gen) per entry of the functions map (modules/config): every entry
# point of functions/main.py, with its trigger, env, secrets, shape and service account.

locals {
  # secret key (as the functions map names it) -> Secret Manager secret id
  secret_ids = merge(
    { for k, s in google_secret_manager_secret.secret : k => s.secret_id },
    { for k, s in google_secret_manager_secret.notify : k => s.secret_id },
    { for k, s in google_secret_manager_secret.source : k => s.secret_id },
    { for k, s in google_secret_manager_secret.cih_session : k => s.secret_id },
  )
  tenants_secret_id = (
    var.tenants_secret_id == null ? google_secret_manager_secret.tenants[0].secret_id : var.tenants_secret_id
  )
  # A Terraform-managed version is pinned, so a change of the tenants file rolls out as a
  # new revision of every function (instances read the file once).
  tenants_secret_version = (
    var.tenants_secret_id == null ? google_secret_manager_secret_version.tenants[0].version : var.tenants_secret_version
  )
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:the token, sub-task, Informatica and Adobe endpoints are public by design (pipeline scripts, Adobe I/O Events and Informatica call from the internet; every request is authenticated by an alertbridge JWT or an Adobe signature); the others are internal only
  for_each    = module.config.functions
  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-${replace(each.key, "_", "-")}"
  description = each.value.description
  labels      = var.labels

  build_config {
    runtime     = var.python_runtime
    entry_point = each.value.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source[each.value.archive].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.available_memory
    available_cpu                    = each.value.available_cpu
    max_instance_request_concurrency = each.value.concurrency
    max_instance_count               = each.value.max_instance_count
    min_instance_count               = each.value.min_instance_count
    timeout_seconds                  = each.value.timeout_seconds
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = each.value.env

    dynamic "secret_environment_variables" {
      for_each = each.value.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = local.secret_ids[secret_environment_variables.value]
        version    = "latest"
      }
    }

    # The tenants file (password hashes, routing): a secret mounted as a file, never env.
    secret_volumes {
      mount_path = module.config.tenants_mount.dir
      project_id = var.project_id
      secret     = local.tenants_secret_id
      versions {
        version = local.tenants_secret_version
        path    = module.config.tenants_mount.file
      }
    }
  }

  # Event functions: an Eventarc trigger on a tick topic. Ticks are disposable (the next
  # one comes soon and the work overlaps), so it does not retry and needs no dead letter.
  dynamic "event_trigger" {
    for_each = each.value.trigger == "event" ? [each.value.event_topic] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.tick[event_trigger.value].id
      retry_policy          = "RETRY_POLICY_DO_NOT_RETRY"
      service_account_email = google_service_account.function[each.key].email
    }
  }

  # Cloud Functions checks secret access at deploy time.
  depends_on = [
    google_secret_manager_secret_iam_member.accessor,
    google_secret_manager_secret_iam_member.tenants_reader,
  ]
}
