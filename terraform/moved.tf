# One function resource and one service-account resource for_each over the functions map
# replaced a block per function: these keep existing deployments' objects (same names) in
# place instead of destroying and recreating them.

moved {
  from = google_cloudfunctions2_function.http["token"]
  to   = google_cloudfunctions2_function.function["token"]
}

moved {
  from = google_cloudfunctions2_function.http["subtask"]
  to   = google_cloudfunctions2_function.function["subtask"]
}

moved {
  from = google_cloudfunctions2_function.http["informatica"]
  to   = google_cloudfunctions2_function.function["informatica"]
}

moved {
  from = google_cloudfunctions2_function.http["adobe"]
  to   = google_cloudfunctions2_function.function["adobe"]
}

moved {
  from = google_cloudfunctions2_function.normalize
  to   = google_cloudfunctions2_function.function["normalize"]
}

moved {
  from = google_cloudfunctions2_function.notify
  to   = google_cloudfunctions2_function.function["notify"]
}

moved {
  from = google_cloudfunctions2_function.poll_cih[0]
  to   = google_cloudfunctions2_function.function["poll_cih"]
}

moved {
  from = google_service_account.normalize
  to   = google_service_account.function["normalize"]
}

moved {
  from = google_service_account.notify
  to   = google_service_account.function["notify"]
}

moved {
  from = google_service_account.poll_cih
  to   = google_service_account.function["poll_cih"]
}

moved {
  from = google_pubsub_topic.cih_poll_tick[0]
  to   = google_pubsub_topic.tick["cih_poll"]
}

moved {
  from = google_cloud_scheduler_job.cih_poll[0]
  to   = google_cloud_scheduler_job.tick["cih_poll"]
}

# IAM grants with fixed addresses. Grants keyed by tenant or env var (the normaliser's tenant
# topic grants, the notifier's and poller's secret grants) cannot be listed here: they are
# recreated under their new addresses, and a destroy of the old address may remove the
# binding the new one just added, so apply twice when upgrading (the second apply restores
# any such binding).

moved {
  from = google_project_iam_member.normalize_firestore
  to   = google_project_iam_member.firestore["normalize"]
}

moved {
  from = google_project_iam_member.notify_firestore
  to   = google_project_iam_member.firestore["notify"]
}

moved {
  from = google_project_iam_member.poll_firestore[0]
  to   = google_project_iam_member.firestore["poll_cih"]
}

moved {
  from = google_pubsub_topic_iam_member.normalize_dead_letter_publisher
  to   = google_pubsub_topic_iam_member.dead_letter_publisher["normalize"]
}

moved {
  from = google_pubsub_topic_iam_member.notify_dead_letter_publisher
  to   = google_pubsub_topic_iam_member.dead_letter_publisher["notify"]
}

moved {
  from = google_pubsub_topic_iam_member.poll_ingest_publisher[0]
  to   = google_pubsub_topic_iam_member.ingest_publisher["poll_cih"]
}

moved {
  from = google_cloud_run_service_iam_member.push_invokes_normalize
  to   = google_cloud_run_service_iam_member.push_invoker["normalize"]
}

moved {
  from = google_cloud_run_service_iam_member.push_invokes_notify
  to   = google_cloud_run_service_iam_member.push_invoker["notify"]
}

moved {
  from = google_cloud_run_service_iam_member.poll_invoker[0]
  to   = google_cloud_run_service_iam_member.self_invoker["poll_cih"]
}

# One source archive became one per requirements lock (the token function's own): the
# existing object is the full archive's.
moved {
  from = google_storage_bucket_object.source
  to   = google_storage_bucket_object.source["full"]
}
