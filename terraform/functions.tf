# One Cloud Function (2nd gen) per entry point of functions/main.py.

resource "google_cloudfunctions2_function" "http" {
  #checkov:skip=CKV_GCP_124:public by design - pipeline scripts, Adobe I/O Events and Informatica call from the internet; every request is authenticated by an alertbridge JWT or an Adobe signature
  for_each    = var.http_functions
  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-${replace(each.key, "_", "-")}"
  description = "alertbridge ${each.key} endpoint"
  labels      = var.labels

  build_config {
    runtime     = var.python_runtime
    entry_point = each.value.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.function_scaling.available_memory
    available_cpu                    = var.function_scaling.available_cpu
    max_instance_request_concurrency = var.function_scaling.concurrency
    max_instance_count               = var.function_scaling.max_instance_count
    min_instance_count               = var.function_scaling.min_instance_count
    timeout_seconds                  = var.function_scaling.timeout_seconds
    ingress_settings                 = var.http_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = local.secret_env[secret_environment_variables.value]
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.accessor]
}

resource "google_cloudfunctions2_function" "normalize" {
  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-normalize"
  description = "alertbridge normaliser: ingest envelope -> alert(s) -> tenant topic or dead letter"
  labels      = var.labels

  build_config {
    runtime     = var.python_runtime
    entry_point = "normalize"
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.function_scaling.available_memory
    available_cpu                    = var.function_scaling.available_cpu
    max_instance_request_concurrency = var.function_scaling.concurrency
    max_instance_count               = var.function_scaling.max_instance_count
    min_instance_count               = var.function_scaling.min_instance_count
    timeout_seconds                  = 60
    # Only Pub/Sub push reaches it: internal ingress admits Pub/Sub in the same project.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.normalize.email
    environment_variables          = local.common_env
  }
}

resource "google_cloudfunctions2_function" "notify" {
  project     = var.project_id
  location    = var.region
  name        = "${var.prefix}-notify"
  description = "alertbridge notifier: tenant alerts -> PagerDuty Events v2 and Slack"
  labels      = var.labels

  build_config {
    runtime     = var.python_runtime
    entry_point = "notify"
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.function_scaling.available_memory
    available_cpu                    = var.function_scaling.available_cpu
    max_instance_request_concurrency = var.function_scaling.concurrency
    max_instance_count               = var.function_scaling.max_instance_count
    min_instance_count               = 0
    # Delivery retries with backoff (5 attempts, <= 8 s apart) must fit inside one push.
    timeout_seconds                = 120
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.notify.email
    environment_variables          = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.notify_secret_env
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.notify[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.notify_accessor]
}
