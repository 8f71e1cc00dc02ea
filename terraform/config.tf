# Everything the module deploys, computed from the inputs and the tenants file by a module
# with no resources and no provider (modules/config): the functions map, topics, ticks and
# grants. The tests evaluate this file and variables.tf with the real terraform binary.
module "config" {
  source = "./modules/config"

  project_id                    = var.project_id
  prefix                        = var.prefix
  source_dir                    = coalesce(var.source_dir, "${path.module}/../functions")
  tenants_file                  = var.tenants_file
  function_scaling              = var.function_scaling
  functions                     = var.functions
  http_ingress                  = var.http_ingress
  jwt_active_kid                = var.jwt_active_kid
  adobe_client_id               = var.adobe_client_id
  adobe_allow_missing_recipient = var.adobe_allow_missing_recipient
  max_delivery_attempts         = var.max_delivery_attempts
  notify_ack_deadline_seconds   = var.notify_ack_deadline_seconds
  tick_schedule                 = var.tick_schedule
  cih_poll_schedule             = var.cih_poll_schedule
}
